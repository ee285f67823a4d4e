/**
 * Faults and durability: kill -9 of `taleus serve` during 100 concurrent bootstraps and a restart on the
 * same folder; a data folder that cannot be created (a path under a regular file: root ignores file
 * modes, so chmod cannot make a folder read-only here); and a full disk injected at the journal's write
 * boundary (FileHandle.write fails with ENOSPC, once after a half-written batch). Each: a clear error,
 * the store still parses, nothing half-written, no session lost without a record, no secret in any output.
 */
import { open, readFile, writeFile } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import type { Libp2p } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionManager, VerdictService, parseLink } from '../../main/bootstrap/index.ts'
import type { BootstrapResult } from '../../main/bootstrap/index.ts'
import { openStore } from '../../main/store/index.ts'
import type { CreatedToken, TallyView } from '../../preload/contract.ts'
import { MemoryHooks } from '../integration/protocol-helpers.ts'
import { SecretWatch, dialerNodes, removeDir, startStoreListener, tempDir } from './helpers.ts'
import { ROOT, ensureBuilt, startServe } from './serve-process.ts'

const watch = new SecretWatch()

/** Every line of a JSON Lines file parses; a torn last line (no newline) is allowed only when `tornOk`. */
async function readJsonLines<T>(path: string, tornOk: boolean): Promise<T[]> {
  const text = await readFile(path, 'utf8').catch(() => '')
  const parts = text.split('\n')
  const last = parts.pop()
  if (!tornOk) expect(last, `${path} ends with a whole line`).toBe('')
  return parts.map((l) => JSON.parse(l) as T)
}

describe('kill -9 of taleus serve during 100 concurrent bootstraps', () => {
  let dir: string
  const nodes: Libp2p[] = []
  beforeAll(async () => {
    ensureBuilt()
    dir = await tempDir('crash')
  })
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    await removeDir(dir)
  })

  it('restart: the store parses, every confirmed bootstrap is there, the rest abandoned, none lost', async () => {
    const first = await startServe(dir)
    watch.secret((await readFile(join(dir, 'api-secret'), 'utf8')).trim())
    const created = await first.api<CreatedToken>('POST', '/api/tokens', { role: 'stock', uses: 'unlimited' })
    const link = parseLink(created.link)
    watch.secret(link.token)

    const dialers = await dialerNodes(5)
    nodes.push(...dialers)
    const hooks = Array.from({ length: 100 }, (_, i) => new MemoryHooks(`B${i}`))
    // half the dialers hold A's response (A's tally is a durable draft then) until after the kill, so the
    // kill always lands mid-flow; the other half run freely and some confirm before it
    const HELD = 50
    const announced = new Set<string>()
    /** tallyId → the index of the dialer (and its hooks) that was told of it. */
    const sessionOf = new Map<string, number>()
    let held = 0
    let succeeded = 0
    let release: () => void = () => {}
    const released = new Promise<void>((res) => {
      release = res
    })
    let killAt: () => void = () => {}
    const enough = new Promise<void>((res) => {
      killAt = res
    })
    const check = (): void => {
      if (held === HELD && succeeded >= 20) killAt()
    }
    hooks.forEach((h, i) => {
      h.override.validateResponse = async (response: {
        provisionResult?: { tally: { tallyId: string } }
      }) => {
        const id = response.provisionResult?.tally.tallyId
        if (id !== undefined) {
          announced.add(id)
          sessionOf.set(id, i)
        }
        if (i < HELD) {
          held++
          check()
          await released
        }
        return true
      }
    })
    const runs = hooks.map((h, i) =>
      new SessionManager(h, { stepTimeoutMs: 20_000, sessionTimeoutMs: 30_000 })
        .initiateBootstrap(link, dialers[i % dialers.length]!)
        .then((r) => {
          succeeded++
          check()
          return r
        })
    )
    const all = Promise.allSettled(runs)
    await Promise.race([enough, all])
    first.child.kill('SIGKILL')
    const { signal } = await first.exited
    expect(signal).toBe('SIGKILL')
    release()
    const outcomes = await all
    watch.text('serve#1 stdout', first.stdout())
    watch.text('serve#1 stderr', first.stderr())

    const successes = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value as BootstrapResult] : []))
    for (const o of outcomes) if (o.status === 'rejected') watch.error('dialer', o.reason)
    for (const r of successes) watch.secret(r.dbConnectionInfo.credentials)
    // tallies B saw announced (a response reached it), whatever happened next
    const seenByB = announced
    expect(successes.length).toBeGreaterThanOrEqual(20)
    expect(successes.length).toBeLessThan(100)

    // straight after the kill, before any repair: whole lines parse, at most a torn last one
    await readJsonLines(join(dir, 'tallies.jsonl'), true)
    await readJsonLines(join(dir, 'audit.jsonl'), true)
    JSON.parse(await readFile(join(dir, 'tokens.json'), 'utf8'))

    const second = await startServe(dir)
    watch.secret((await readFile(join(dir, 'api-secret'), 'utf8')).trim())
    const tallies = await second.api<TallyView[]>('GET', '/api/tallies')
    // issue H: a dialer that committed and lost A's verdict holds its tally `pending` and asks A
    const statusA = new Map(tallies.map((t) => [t.tallyId, t.status]))
    const asker = new VerdictService({ lookupVerdict: async () => undefined })
    let disagreeBefore = 0
    let disagreeAfter = 0
    let asked = 0
    // one query at a time per dialer node (an answerer takes a few verdict streams per connection)
    const byDialer = new Map<number, Array<[string, number]>>()
    for (const [id, i] of sessionOf) {
      const list = byDialer.get(i % dialers.length) ?? []
      list.push([id, i])
      byDialer.set(i % dialers.length, list)
    }
    const askAll = async (list: Array<[string, number]>): Promise<void> => {
      for (const [id, i] of list) {
        const settles = hooks[i]!.calls.filter((c) => c.startsWith('settleTally:'))
        let statusB = settles.at(-1)?.slice('settleTally:'.length) ?? 'none'
        const confirmedA = statusA.get(id) === 'confirmed'
        // the dialer before issue H abandoned what it now holds pending
        if (confirmedA !== (statusB === 'confirmed') && statusB !== 'pending') disagreeBefore++
        else if (confirmedA && statusB === 'pending') disagreeBefore++
        if (statusB === 'pending') {
          asked++
          const answer = await asker.ask(
            dialers[i % dialers.length]!,
            { peerId: second.ready.peerId, addrs: second.ready.multiaddrs },
            id,
            { signal: AbortSignal.timeout(20_000) }
          )
          statusB = answer === 'confirmed' ? 'confirmed' : answer === 'unsettled' ? 'pending' : 'abandoned'
        }
        if (confirmedA !== (statusB === 'confirmed')) disagreeAfter++
      }
    }
    await Promise.all([...byDialer.values()].map(askAll))
    console.info(
      `kill -9, dialers vs A: ${disagreeBefore} disagree as the dialers left them (before issue H: pending was abandoned); ` +
        `${asked} pending asked A; ${disagreeAfter} disagree after`
    )
    expect(disagreeAfter).toBe(0)
    second.child.kill('SIGTERM')
    expect((await second.exited).code).toBe(0)
    watch.text('serve#2 stdout', second.stdout())
    watch.text('serve#2 stderr', second.stderr())

    const byId = new Map(tallies.map((t) => [t.tallyId, t]))
    for (const r of successes) expect(byId.get(r.tally.tallyId)?.status, r.tally.tallyId).toBe('confirmed')
    const lost = [...seenByB].filter((id) => !byId.has(id))
    expect(lost).toEqual([])
    expect(tallies.filter((t) => t.status === 'draft')).toEqual([])
    // on disk, after a clean stop: every line whole and parseable, the newest line per tally settled
    const records = await readJsonLines<TallyView>(join(dir, 'tallies.jsonl'), false)
    const latest = new Map(records.map((r) => [r.tallyId, r.status]))
    expect([...latest.values()].every((s) => s === 'confirmed' || s === 'abandoned')).toBe(true)
    expect(new Set(latest.keys())).toEqual(new Set(byId.keys()))
    // every tally's session is in the audit trail
    const audit = await readJsonLines<{ sessionId: string }>(join(dir, 'audit.jsonl'), false)
    const audited = new Set(audit.map((e) => e.sessionId))
    expect(tallies.filter((t) => !audited.has(t.sessionId))).toEqual([])

    const abandoned = tallies.filter((t) => t.status === 'abandoned').length
    const confirmedNotSeen = tallies.filter(
      (t) => t.status === 'confirmed' && !successes.some((r) => r.tally.tallyId === t.tallyId)
    ).length
    console.info(
      `kill -9: ${successes.length}/100 dialers succeeded before the kill, ${seenByB.size} tallies announced to B, ` +
        `A holds ${tallies.length} (${tallies.length - abandoned} confirmed, ${abandoned} abandoned; ` +
        `${confirmedNotSeen} confirmed by A whose dialer saw the reset first), lost ${lost.length}`
    )
    await watch.folder(dir)
  })
})

describe('a data folder that cannot be written', () => {
  let dir: string
  beforeAll(async () => {
    dir = await tempDir('readonly')
  })
  afterAll(async () => {
    await removeDir(dir)
  })

  it('a data folder under a regular file: openStore throws StoreWriteError, serve exits with one clear line', async () => {
    const file = join(dir, 'not-a-folder')
    await writeFile(file, 'keep me\n')
    const err = await openStore(join(file, 'data')).catch((e: unknown) => e)
    expect((err as Error).name).toBe('StoreWriteError')
    expect((err as { kind: string }).kind).toBe('io')
    watch.error('openStore', err)

    ensureBuilt()
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin/taleus.js'), 'serve', '--data-dir', join(file, 'data'), '--no-mdns'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)))
    expect(code).not.toBe(0)
    expect(out).toMatch(/not-a-folder/)
    expect(out).not.toContain('"event":"ready"')
    watch.text('serve (bad folder) output', out)
    // what was there is untouched
    expect(await readFile(file, 'utf8')).toBe('keep me\n')
  })
})

describe('a full disk, injected at the journal write boundary', () => {
  let restore: (() => void) | undefined
  afterAll(() => restore?.())

  it('ENOSPC (after a half-written batch) fails the bootstrap cleanly; the data already there stays whole', async () => {
    const A = await startStoreListener({ stepTimeoutMs: 5000 })
    const [b] = await dialerNodes(1)
    try {
      const { token } = await A.store.createToken({ role: 'stock', uses: 'unlimited' })
      watch.secret(token)
      const link = { token, role: 'stock' as const, responderPeerAddrs: [A.addr()] }
      const bootstrap = (): Promise<BootstrapResult> =>
        new SessionManager(new MemoryHooks('B'), { stepTimeoutMs: 5000 }).initiateBootstrap(link, b!)
      const before = [await bootstrap(), await bootstrap()]
      await A.idle()

      // every FileHandle.write in this process: the first writes half its bytes, the next ones fail ENOSPC
      const probe: FileHandle = await open(join(A.dir, 'probe'), 'w')
      const proto = Object.getPrototypeOf(probe) as {
        write: (...args: unknown[]) => Promise<{ bytesWritten: number }>
      }
      await probe.close()
      const original = proto.write
      let calls = 0
      let faults = 0
      proto.write = async function (this: FileHandle, ...args: unknown[]) {
        const [buf, offset = 0, length] = args as [Buffer, number, number | undefined]
        if (calls++ === 0 && Buffer.isBuffer(buf)) {
          const len = length ?? buf.length - offset
          return original.call(this, buf, offset, Math.max(1, Math.floor(len / 2)))
        }
        faults++
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
          code: 'ENOSPC',
          errno: -28
        })
      }
      restore = () => {
        proto.write = original
      }
      const failed = await bootstrap().catch((e: unknown) => e)
      await A.idle()
      restore()
      restore = undefined
      expect((failed as { reason: string }).reason).toBe('provision-failed')
      watch.error('dialer (disk full)', failed)
      expect(faults).toBeGreaterThan(0)
      // the store still answers, with exactly the tallies it had
      expect(
        A.store
          .listTallies()
          .map((t) => t.tallyId)
          .sort()
      ).toEqual(before.map((r) => r.tally.tallyId).sort())
      // the disk has room again: the next bootstrap works
      const after = await bootstrap()
      await A.idle()
      await A.store.close()
      const records = await readJsonLines<TallyView>(join(A.dir, 'tallies.jsonl'), false)
      const latest = new Map(records.map((r) => [r.tallyId, r.status]))
      expect(latest).toEqual(new Map([...before, after].map((r) => [r.tally.tallyId, 'confirmed'])))
      await readJsonLines(join(A.dir, 'audit.jsonl'), false)
      const reopened = await openStore(A.dir)
      expect(reopened.listTallies()).toHaveLength(3)
      await reopened.close()
      for (const r of [...before, after]) watch.secret(r.dbConnectionInfo.credentials)
      await watch.folder(A.dir)
      console.info(
        `disk full: ${faults} write faults injected (after 1 half-written batch); tallies kept 3/3`
      )
    } finally {
      restore?.()
      await b!.stop()
      await A.close()
    }
  })
})

describe('secrets', () => {
  it('no token, API secret or tally credential in any output, audit record, journal or error of this file', () => {
    expect(watch.secrets.size).toBeGreaterThan(3)
    expect(watch.texts.length).toBeGreaterThan(5)
    expect(watch.leaks()).toEqual([])
  })
})
