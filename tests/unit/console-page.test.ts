/**
 * The page `taleus console` gives the browser instead of the secret in its command line: it only
 * replaces itself with the address (no text of the address can end its script), and it does not stay
 * behind when no browser could be started.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { consoleCommand } from '../../main/cli/console-cmd.ts'
import { pageHtml, writeConsolePage } from '../../main/cli/console-page.ts'

const SECRET = 'a'.repeat(43)

describe('console page', () => {
  let dataDir: string

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'taleus-console-page-'))
    await writeFile(join(dataDir, 'api.json'), JSON.stringify({ url: 'http://127.0.0.1:4321', pid: 1 }))
    await writeFile(join(dataDir, 'api-secret'), SECRET, { mode: 0o600 })
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
  })

  afterEach(async () => {
    vi.restoreAllMocks()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('is private (0700 folder, 0600 page) and leads to the address', async () => {
    const page = await writeConsolePage(`http://127.0.0.1:4321/#secret=${SECRET}`)
    try {
      const path = fileURLToPath(page.url)
      expect((await stat(path)).mode & 0o777).toBe(0o600)
      expect((await stat(page.dir)).mode & 0o777).toBe(0o700)
      expect(await readFile(path, 'utf8')).toContain(
        `location.replace("http://127.0.0.1:4321/#secret=${SECRET}")`
      )
    } finally {
      await page.remove()
    }
    expect(existsSync(page.dir)).toBe(false)
  })

  it('an address cannot close the script and run its own', () => {
    const html = pageHtml('http://127.0.0.1:1/</script><script>alert(1)</script>')
    expect(html.match(/<\/script>/g)).toHaveLength(1)
    expect(html).toContain('\\u003c/script>\\u003cscript>alert(1)')
  })

  it('is removed at once when no browser starts (on a pipe: an error; on a terminal: the address)', async () => {
    const given: string[] = []
    const failing = async (url: string): Promise<void> => {
      given.push(url)
      throw new Error('no browser')
    }
    await expect(consoleCommand({ dataDir, isTTY: false, open: failing })).rejects.toThrow(
      /could not open a browser/
    )
    expect(await consoleCommand({ dataDir, isTTY: true, open: failing })).toEqual({
      action: 'printed',
      url: 'http://127.0.0.1:4321'
    })
    expect(given).toHaveLength(2)
    for (const url of given) {
      expect(url).not.toContain(SECRET)
      expect(existsSync(dirname(fileURLToPath(url)))).toBe(false)
    }
  })

  it('stays for the browser, then goes by itself', async () => {
    let url = ''
    const result = await consoleCommand({
      dataDir,
      isTTY: false,
      pageLifetimeMs: 300,
      open: async (u) => {
        url = u
      }
    })
    expect(result.action).toBe('opened')
    const folder = dirname(fileURLToPath(url))
    expect(existsSync(folder)).toBe(true)
    await vi.waitFor(() => expect(existsSync(folder)).toBe(false), { timeout: 10_000, interval: 50 })
  })
})
