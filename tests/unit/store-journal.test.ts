import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { HookContext } from '../../main/bootstrap/types.ts'
import { doctor } from '../../main/cli/doctor.ts'
import { openStore } from '../../main/store/index.ts'
import { TallyBook } from '../../main/store/tally-book.ts'

const A = { peerId: 'peer-A', multiaddrs: () => ['/ip4/127.0.0.1/tcp/4001/p2p/peer-A'] }
/** The largest identity bundle and cadre the wire allows. */
const BUNDLE = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`f${i}`, 'x'.repeat(1024)]))
const CADRE = Array.from({ length: 16 }, (_, i) => `/ip4/10.0.0.${i}/tcp/1/p2p/${'p'.repeat(480)}`)

function ctx(sessionId: string): HookContext {
  return {
    sessionId,
    direction: 'inbound',
    remotePeerId: 'peer-B',
    signal: new AbortController().signal,
    counterparty: { identityBundle: { name: 'Bo', ...BUNDLE }, cadrePeerAddrs: CADRE },
    // the token asked for every field: a confirmed tally keeps the whole bundle
    token: { tokenId: 'tk_all', role: 'stock', identityRequirements: Object.keys(BUNDLE) }
  }
}

async function rejection(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await p
  } catch (err) {
    return err as Error & Record<string, unknown>
  }
  throw new Error('expected a rejection')
}

describe('tally journal integrity', () => {
  let dir: string
  const path = (): string => join(dir, 'tallies.jsonl')

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-journal-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  /** Three lines: tally 1 draft, tally 1 confirmed, tally 2 draft (tallies we dialled: a draft has a line). */
  async function confirmedThenDraft(): Promise<string> {
    const store = await openStore(dir)
    const hooks = store.hooks(A)
    const out = (id: string): HookContext => ({ ...ctx(id), direction: 'outbound' })
    const { tally } = await hooks.provisionDatabase('foil', 'peer-A', 'peer-B', 's1', out('s1'))
    await hooks.settleTally!(tally.tallyId, 'confirmed', out('s1'))
    await hooks.provisionDatabase('foil', 'peer-A', 'peer-B', 's2', out('s2'))
    await store.close()
    return tally.tallyId
  }

  it('one damaged byte mid-journal stops the open naming file and line, leaves the file untouched; doctor repairs with a backup', async () => {
    const id = await confirmedThenDraft()
    const text = await readFile(path(), 'utf8')
    const lines = text.split('\n')
    // flip one byte inside the confirmed line's status
    lines[1] = (lines[1] as string).replace('"confirmed"', '"confirmeD"')
    const damaged = lines.join('\n')
    await writeFile(path(), damaged)

    const err = await rejection(openStore(dir))
    expect(err.name).toBe('JournalCorruptError')
    expect(err).toMatchObject({ path: path(), line: 2 })
    expect(err.message.split('\n')).toHaveLength(1)
    expect(await readFile(path(), 'utf8')).toBe(damaged)

    const tallies = (reports: Awaited<ReturnType<typeof doctor>>) => reports.find((r) => r.file === path())
    expect(tallies(await doctor({ dataDir: dir }))).toMatchObject({ damaged: [{ line: 2 }], review: [id] })
    expect(await readFile(path(), 'utf8')).toBe(damaged)
    const repaired = tallies(await doctor({ dataDir: dir, repair: true }))
    expect(await readFile(repaired!.backup!, 'utf8')).toBe(damaged)
    expect(tallies(await doctor({ dataDir: dir }))).toMatchObject({ damaged: [], lines: 2 })
    const store = await openStore(dir)
    expect(store.listTallies()).toHaveLength(2)
    await store.close()
  })

  it('journals without checksums still open; new lines are sealed; an unsealed line after sealed ones is damage', async () => {
    await confirmedThenDraft()
    const sealed = (await readFile(path(), 'utf8')).trim().split('\n')
    expect(sealed.every((l) => /^\{"_c":"[0-9a-f]{8}",/.test(l))).toBe(true)
    const legacy = sealed.map((l) => {
      const { _c, ...rest } = JSON.parse(l) as Record<string, unknown>
      expect(_c).toBeTypeOf('string')
      return JSON.stringify(rest)
    })
    await writeFile(path(), legacy.join('\n') + '\n')
    const store = await openStore(dir)
    expect(
      store
        .listTallies()
        .map((t) => t.status)
        .sort()
    ).toEqual(['confirmed', 'draft'])
    await store.close()

    await writeFile(path(), [sealed[0], legacy[1], sealed[2]].join('\n') + '\n')
    expect(await rejection(openStore(dir))).toMatchObject({ name: 'JournalCorruptError', line: 2 })
  })

  it('a confirmed tally is never downgraded: put refuses it, a later line saying so is ignored', async () => {
    const id = await confirmedThenDraft()
    const book = await TallyBook.open(path())
    const confirmed = book.get(id)!
    expect((await rejection(book.put([{ ...confirmed, status: 'abandoned' }]))).name).toBe(
      'TallyDowngradeError'
    )
    await book.close()

    // an old journal (no checksums) where a later line abandons the confirmed tally
    const legacy = (await readFile(path(), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => {
        const { _c, ...rest } = JSON.parse(l) as Record<string, unknown>
        expect(_c).toBeDefined()
        return rest
      })
    legacy.push({ ...legacy[1], status: 'abandoned', updatedAt: 9 })
    await writeFile(path(), legacy.map((r) => JSON.stringify(r)).join('\n') + '\n')
    const store = await openStore(dir)
    expect(store.getTally(id)?.status).toBe('confirmed')
    expect(await store.recover()).toEqual({ abandoned: 0, pending: 1 })
    expect(store.getTally(id)?.status).toBe('confirmed')
    await store.close()
  })

  it('a torn last line is cut, but a whole sealed last line that only lacks its newline is kept', async () => {
    await confirmedThenDraft()
    const text = await readFile(path(), 'utf8')
    await writeFile(path(), text.slice(0, -1))
    let store = await openStore(dir)
    expect(store.listTallies()).toHaveLength(2)
    await store.close()
    expect(await readFile(path(), 'utf8')).toBe(text)
    await writeFile(path(), text.slice(0, -20))
    store = await openStore(dir)
    expect(store.listTallies()).toHaveLength(1)
    await store.close()
  })

  it('an attempt that ends abandoned costs a few hundred bytes on disk and in memory, whatever its bundle', async () => {
    const store = await openStore(dir)
    const hooks = store.hooks(A)
    const ids: string[] = []
    for (let i = 0; i < 20; i++) {
      const { tally } = await hooks.provisionDatabase('stock', 'peer-B', 'peer-A', `a${i}`, ctx(`a${i}`))
      await hooks.settleTally!(tally.tallyId, 'abandoned', ctx(`a${i}`))
      ids.push(tally.tallyId)
    }
    const { tally } = await hooks.provisionDatabase('stock', 'peer-B', 'peer-A', 'ok', ctx('ok'))
    await hooks.settleTally!(tally.tallyId, 'confirmed', ctx('ok'))
    const confirmedBytes = JSON.stringify(store.getTally(tally.tallyId)).length
    expect(confirmedBytes).toBeGreaterThan(16 * 1024)
    for (const id of ids) {
      const t = store.getTally(id)!
      expect(t).not.toHaveProperty('counterpartyIdentity')
      expect(t).not.toHaveProperty('counterpartyCadre')
      expect(t.dbConnectionInfo.credentials).toBe('')
      expect(JSON.stringify(t).length).toBeLessThan(1024)
    }
    await store.close()
    const size = (await stat(path())).size
    // 20 attempts (one abandoned line each: a listener's draft has none) + one confirmed tally with the full bundle
    expect((size - confirmedBytes) / 20).toBeLessThan(1024)
    expect(await readFile(path(), 'utf8')).toContain(BUNDLE.f0)
  })

  it('a confirmed tally keeps only the fields its token asked for, and a short name and email given unasked', async () => {
    const store = await openStore(dir)
    const hooks = store.hooks(A)
    const unasked: HookContext = {
      ...ctx('plain'),
      counterparty: {
        identityBundle: { name: 'N'.repeat(1000), email: 'bo@example.org', website: 'x', ...BUNDLE },
        cadrePeerAddrs: CADRE
      },
      token: { tokenId: 'tk_none', role: 'stock', identityRequirements: ['f3'] }
    }
    const { tally } = await hooks.provisionDatabase('stock', 'peer-B', 'peer-A', 'plain', unasked)
    await hooks.settleTally!(tally.tallyId, 'confirmed', unasked)
    expect(store.getTally(tally.tallyId)?.counterpartyIdentity).toEqual({
      name: 'N'.repeat(256),
      email: 'bo@example.org',
      f3: BUNDLE.f3
    })
    await store.close()
    const line = (await readFile(path(), 'utf8')).trim().split('\n').at(-1) ?? ''
    // one 1 KiB field asked for, the 16 addresses of its cadre, the rest of a record: not the 16 KiB sent
    expect(line.length).toBeLessThan(BUNDLE.f3!.length + 9 * 1024)
    expect(line).not.toContain('website')
  })

  it('doctor refuses a folder a live store owns', async () => {
    const store = await openStore(dir)
    expect((await rejection(doctor({ dataDir: dir }))).name).toBe('StoreLockedError')
    await store.close()
    expect((await readdir(dir)).some((n) => n.includes('.bak-'))).toBe(false)
  })

  it('doctor on a wrong folder says so, and leaves no lock file in it', async () => {
    const empty = await rejection(doctor({ dataDir: dir }))
    expect(empty.name).toBe('CliError')
    expect(empty.message).toContain('is not a Taleus data folder')
    expect(await readdir(dir)).toEqual([])
    const missing = await rejection(doctor({ dataDir: join(dir, 'nosuch') }))
    expect(missing.name).toBe('CliError')
    expect(missing.message).toContain('no folder at')
  })
})
