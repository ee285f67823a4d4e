/**
 * The CLI side of issue G, in child processes: `taleus dial` names the identity fields a link asks for,
 * `taleus approve nosuch` says the session is unknown, roles in plain words, `taleus audit verify` finds
 * an edited record, and the console keeps its address (port and secret) across restarts, opens in one
 * step without the secret in a log or a command line, and rotates its secret.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { completeIdentity } from '../../main/cli/dial-identity.ts'
import { sealLine, unsealLine } from '../../main/store/journal-seal.ts'
import type { CreatedToken } from '../../preload/contract.ts'
import { BIN, ROOT, ensureBuilt } from '../helpers/built-cli.ts'

interface Run {
  code: number
  stdout: string
  stderr: string
}

function taleus(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: ROOT, timeout: 60_000, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        const code =
          err === null
            ? 0
            : typeof (err as { code?: unknown }).code === 'number'
              ? (err as { code: number }).code
              : -1
        resolvePromise({ code, stdout, stderr })
      }
    )
  })
}

describe('taleus CLI for an operator (issue G)', () => {
  let dir: string
  let dialerDir: string
  let serve: ChildProcess | undefined
  let serveErr = ''

  async function startServe(): Promise<{ api: string }> {
    let out = ''
    serveErr = ''
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }
    )
    serve = child
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (serveErr += chunk))
    await vi.waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${serveErr}`)
        expect(out).toContain('\n')
      },
      { timeout: 30_000, interval: 20 }
    )
    return JSON.parse(out.split('\n')[0] as string) as { api: string }
  }

  async function stopServe(): Promise<void> {
    const child = serve
    if (child === undefined || child.exitCode !== null) return
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
  }

  beforeAll(async () => {
    ensureBuilt()
    dir = await mkdtemp(join(tmpdir(), 'taleus-cli-op-'))
    dialerDir = await mkdtemp(join(tmpdir(), 'taleus-cli-op-dialer-'))
    await startServe()
  })

  afterAll(async () => {
    if (serve?.exitCode === null) serve.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
    await rm(dialerDir, { recursive: true, force: true })
  })

  it('serve on a pipe says how to open the console in one step, without its secret', async () => {
    const secret = (await readFile(join(dir, 'api-secret'), 'utf8')).trim()
    expect(serveErr).toContain(`taleus console --data-dir ${dir}`)
    expect(serveErr).not.toContain(secret)
  })

  it('a --listen that is no TCP address is a usage error naming the option, before anything starts', async () => {
    for (const args of [
      ['serve', '--data-dir', dir, '--listen', 'garbage', '--no-mdns'],
      ['serve', '--data-dir', dir, '--listen', '/ip4/1.2.3.4/tcp/abc', '--no-mdns'],
      ['dial', '--listen', '/ip4/127.0.0.1/udp/1', '-']
    ]) {
      const run = await taleus(args)
      expect(run.code).toBe(2)
      expect(run.stderr).toMatch(/^taleus: --listen must be a TCP address like \/ip4\/0\.0\.0\.0\/tcp\/4001/)
      expect(run.stderr.trim().split('\n')).toHaveLength(1)
      expect(run.stderr).not.toMatch(/Error/)
    }
  })

  it('approve of an unknown session says it is unknown, not already decided', async () => {
    const run = await taleus(['approve', 'nosuch', '--data-dir', dir])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/unknown-session: no session with that id/)
    expect(run.stderr).not.toMatch(/already decided/)
  })

  it('dial without --identity names the fields the link asks for; with them, says our role in plain words', async () => {
    const created = await taleus([
      'token',
      'create',
      '--data-dir',
      dir,
      '--role',
      'stock',
      '--require',
      'name,email',
      '--json'
    ])
    const link = (JSON.parse(created.stdout) as CreatedToken).link
    const linkFile = join(dialerDir, 'link.txt')
    await writeFile(linkFile, link)
    const missing = await taleus([
      'dial',
      '--link-file',
      linkFile,
      '--data-dir',
      dialerDir,
      '--identity',
      'name=Ann'
    ])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(
      /identity-required — this link asks for your email; pass --identity email=…/
    )

    const none = await taleus(['dial', '--link-file', linkFile, '--data-dir', dialerDir])
    expect(none.stderr).toMatch(/asks for your name, email/)

    const ok = await taleus([
      'dial',
      '--link-file',
      linkFile,
      '--data-dir',
      dialerDir,
      '--identity',
      'name=Ann,email=ann@example.org'
    ])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(
      /you are the foil: the other side \(whose link this is\) is the stock, and their node keeps the tally's shared document/
    )
    expect(ok.stdout).not.toMatch(/\(stock\)/)
    const tallies = await taleus(['tallies', '--data-dir', dir])
    expect(tallies.stdout).toMatch(/YOUR ROLE/)
  })

  it('on a terminal, missing identity fields are asked for', async () => {
    const link =
      'taleus:bootstrap?v=1&r=stock&t=dG9rZW4tdG9rZW4tdG9rZW4&a=%2Fip4%2F127.0.0.1%2Ftcp%2F1%2Fp2p%2F12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq&i=name,email'
    const asked: string[] = []
    const identity = await completeIdentity(link, { name: 'Ann' }, async (field) => {
      asked.push(field)
      return 'ann@example.org'
    })
    expect(asked).toEqual(['email'])
    expect(identity).toEqual({ name: 'Ann', email: 'ann@example.org' })
  })

  it('human lists show control characters of stored text as visible escapes (a label here, a peer name alike)', async () => {
    const label = 'evil\x1b[2J\r\x1b[2K\u009b\u202e'
    const made = await taleus(['token', 'create', '--data-dir', dir, '--role', 'stock', '--label', label])
    expect(made.code).toBe(0)
    const list = await taleus(['token', 'list', '--data-dir', dir])
    expect(list.code).toBe(0)
    expect(list.stdout).toContain('evil\\x1b[2J\\r\\x1b[2K\\x9b\\u202e')
    // eslint-disable-next-line no-control-regex -- control characters are what it looks for
    expect(list.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/)
    // JSON stays JSON: the label as it was stored
    const json = await taleus(['token', 'list', '--data-dir', dir, '--json'])
    expect((JSON.parse(json.stdout) as Array<{ label: string }>).map((t) => t.label)).toContain(label)
  })

  it('console: --print only on a terminal, one-step open with $BROWSER, the same address after a restart, --rotate', async () => {
    const secret = (await readFile(join(dir, 'api-secret'), 'utf8')).trim()
    const printed = await taleus(['console', '--print', '--data-dir', dir])
    expect(printed.code).toBe(1)
    expect(printed.stdout + printed.stderr).not.toContain(secret)

    // the fake browser records its command line (what `ps` shows every local user) and the page it got
    const opened = join(dialerDir, 'opened.json')
    const browser = join(dialerDir, 'browser.cjs')
    await writeFile(
      browser,
      `#!${process.execPath}
const { readFileSync, statSync, writeFileSync } = require('node:fs')
const { dirname } = require('node:path')
const { fileURLToPath } = require('node:url')
const seen = { argv: process.argv }
if (process.argv[2].startsWith('file:')) {
  const page = fileURLToPath(process.argv[2])
  Object.assign(seen, {
    page,
    html: readFileSync(page, 'utf8'),
    fileMode: statSync(page).mode & 0o777,
    dirMode: statSync(dirname(page)).mode & 0o777
  })
}
writeFileSync(${JSON.stringify(opened)}, JSON.stringify(seen))
`
    )
    await chmod(browser, 0o700)
    const open = await taleus(['console', '--data-dir', dir], {
      BROWSER: browser,
      TALEUS_CONSOLE_PAGE_MS: '1500'
    })
    expect(open.code).toBe(0)
    const seen = JSON.parse(await readFile(opened, 'utf8')) as {
      argv: string[]
      page: string
      html: string
      fileMode: number
      dirMode: number
    }
    // the secret is in no argument: the browser got a file:// page, private to this user
    expect(seen.argv.join(' ')).not.toContain(secret)
    expect(seen.argv[2]).toMatch(/^file:\/\//)
    expect(seen.fileMode).toBe(0o600)
    expect(seen.dirMode).toBe(0o700)
    // ...which replaces itself with the console's address and its secret, uncached, with no referrer
    const target = /location\.replace\(("[^"]*")\)/.exec(seen.html)?.[1]
    expect(JSON.parse(target ?? 'null')).toMatch(
      new RegExp(`^http://127\\.0\\.0\\.1:\\d+/#secret=${secret}$`)
    )
    expect(seen.html).toContain('<meta http-equiv="Cache-Control" content="no-store">')
    expect(seen.html).toContain('<meta name="referrer" content="no-referrer">')
    expect(open.stdout + open.stderr).not.toContain(secret)
    // ...and is gone, folder and all, once the browser had its time (TALEUS_CONSOLE_PAGE_MS), the command long over
    await vi.waitFor(() => expect(existsSync(dirname(seen.page))).toBe(false), {
      timeout: 15_000,
      interval: 100
    })

    const before = JSON.parse(await readFile(join(dir, 'api.json'), 'utf8')) as { url: string }
    await stopServe()
    const { api } = await startServe()
    expect(api).toBe(before.url)
    expect((await readFile(join(dir, 'api-secret'), 'utf8')).trim()).toBe(secret)

    // a tab's live event stream, opened with the old secret
    const live = await fetch(`${api}/api/events`, { headers: { authorization: `Bearer ${secret}` } })
    expect(live.status).toBe(200)
    const reader = live.body!.getReader()
    const streamEnded = (async (): Promise<number> => {
      for (;;) if ((await reader.read()).done) return Date.now()
    })()

    const rotated = await taleus(['console', '--rotate', '--data-dir', dir])
    expect(rotated.code).toBe(0)
    const fresh = (await readFile(join(dir, 'api-secret'), 'utf8')).trim()
    expect(fresh).not.toBe(secret)
    // the running node follows the file within about a second
    await vi.waitFor(
      async () => {
        const res = await fetch(`${api}/api/node`, { headers: { authorization: `Bearer ${secret}` } })
        expect(res.status).toBe(401)
      },
      { timeout: 15_000, interval: 200 }
    )
    const ok = await fetch(`${api}/api/node`, { headers: { authorization: `Bearer ${fresh}` } })
    expect(ok.status).toBe(200)
    // ...carries nothing more: it ends (the tab's reconnect then gets 401 and its sign-in page)
    const noticed = Date.now()
    const endedAt = await Promise.race([
      streamEnded,
      new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), 10_000))
    ])
    expect(endedAt - noticed).toBeLessThan(10_000)
  })

  it('audit verify: OK on a clean trail, the first broken record (file, line) and exit 1 after an edit', async () => {
    const clean = await taleus(['audit', 'verify', '--data-dir', dir])
    expect(clean.code).toBe(0)
    expect(clean.stdout).toMatch(/^audit trail OK: \d+ records/)
    await stopServe()
    const path = join(dir, 'audit.jsonl')
    const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '')
    const at = lines.findIndex((l) => l.includes('"op":"token-create"'))
    expect(at).toBeGreaterThan(0)
    const record = JSON.parse(unsealLine(lines[at] as string)?.text as string) as Record<string, unknown>
    record.actor = 'browser'
    lines[at] = sealLine(JSON.stringify(record))
    await writeFile(path, lines.join('\n') + '\n')
    const broken = await taleus(['audit', 'verify', '--data-dir', dir, '--json'])
    expect(broken.code).toBe(1)
    expect(JSON.parse(broken.stdout)).toMatchObject({
      ok: false,
      firstBreak: { file: 'audit.jsonl', line: at + 1 }
    })
    const human = await taleus(['audit', 'verify', '--data-dir', dir])
    expect(human.stdout).toContain(`BROKEN at audit.jsonl line ${at + 1}`)
  })
})
