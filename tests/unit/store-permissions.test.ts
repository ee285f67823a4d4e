import { chmod, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadOrCreatePrivateKey } from '../../main/node/private-key.ts'
import { openStore } from '../../main/store/index.ts'

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777

describe('data folder permissions', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-perm-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('open makes the folder 0700 and every store file 0600, whoever created them', async () => {
    const first = await openStore(dir)
    await first.createToken({ role: 'stock' })
    await first.close()
    await chmod(dir, 0o755)
    for (const name of ['tokens.json', 'tokens-archive.jsonl', 'tallies.jsonl', 'audit.jsonl', 'secret'])
      await chmod(join(dir, name), 0o644)

    const store = await openStore(dir)
    await store.createToken({ role: 'foil' })
    expect(await mode(dir)).toBe(0o700)
    for (const name of ['tokens.json', 'tokens-archive.jsonl', 'tallies.jsonl', 'audit.jsonl', 'secret'])
      expect([name, await mode(join(dir, name))]).toEqual([name, 0o600])
    const lock = (await readdir(dir)).find((n) => n.startsWith('.lock'))
    expect(await mode(join(dir, lock as string))).toBe(0o600)
    await store.close()
    // tokens.json is written whole and durably: no temp file left behind
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([])
    expect(JSON.parse(await readFile(join(dir, 'tokens.json'), 'utf8'))).toMatchObject({ version: 1 })
  })

  it('peer.key is created 0600 and made 0600 when found wider', async () => {
    const file = join(dir, 'node', 'peer.key')
    const key = await loadOrCreatePrivateKey(file)
    expect(await mode(file)).toBe(0o600)
    await chmod(file, 0o644)
    const again = await loadOrCreatePrivateKey(file)
    expect(again.equals(key)).toBe(true)
    expect(await mode(file)).toBe(0o600)
  })
})
