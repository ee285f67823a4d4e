import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { HookContext, SessionEvent } from '../../main/bootstrap/types.ts'
import { AuditLog } from '../../main/store/audit-log.ts'
import type { DiskStats } from '../../main/store/disk-guard.ts'
import { openStore } from '../../main/store/index.ts'
import { tokenCtx } from '../helpers/hook-context.ts'

const A = { peerId: 'peer-A', multiaddrs: () => ['/ip4/127.0.0.1/tcp/4001/p2p/peer-A'] }
const PEER = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'

function rejected(i: number, peerId = PEER): [SessionEvent, SessionEvent] {
  const sessionId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`
  const base = { sessionId, direction: 'inbound', peerId } as const
  return [
    { ...base, state: 'L_PROCESS_CONTACT', previousState: null, at: 1000 + i },
    { ...base, state: 'L_FAILED', previousState: 'L_PROCESS_CONTACT', at: 1000 + i, reason: 'invalid-token' }
  ]
}

function ctx(sessionId: string): HookContext {
  return { sessionId, direction: 'inbound', remotePeerId: 'peer-B', signal: new AbortController().signal }
}

async function lines(path: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(path, 'utf8')
  return (
    text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      // the hash chain's file headers are not events
      .filter((r) => r.chain === undefined)
  )
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size
  return total
}

async function rejection(p: Promise<unknown>): Promise<Error & { reason?: string }> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

describe('audit trail bounds', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-audit-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('a flood of rejected contacts from one peer becomes one full record and one counted record', async () => {
    const path = join(dir, 'audit.jsonl')
    const log = await AuditLog.open(path, { flushMs: 1 })
    for (let i = 0; i < 2000; i++) for (const e of rejected(i)) log.append(e)
    // memory still lists every event (the console's live view)
    expect(log.list({ limit: 5000 })).toHaveLength(4000)
    await log.close()
    const written = await lines(path)
    expect(written).toHaveLength(3)
    expect(written[2]).toMatchObject({
      state: 'L_FAILED',
      reason: 'invalid-token',
      count: 1999,
      firstAt: 1001,
      at: 2999
    })
    console.info(`audit: 2000 rejected contacts from one peer -> ${(await stat(path)).size} bytes`)
  })

  it('without coalescing the same flood costs two lines per contact (the defect this guards)', async () => {
    const path = join(dir, 'audit.jsonl')
    const log = await AuditLog.open(path, { flushMs: 1, coalesceMs: 0 })
    for (let i = 0; i < 2000; i++) for (const e of rejected(i)) log.append(e)
    await log.close()
    const size = (await stat(path)).size
    expect(await lines(path)).toHaveLength(4000)
    console.info(
      `audit: 2000 rejected contacts uncoalesced -> ${size} bytes (${(size / 2000).toFixed(0)} B/contact)`
    )
  })

  it('each coalescing window gets its counted record; sessions that go on are written in full, in order', async () => {
    let clock = 0
    const path = join(dir, 'audit.jsonl')
    const log = await AuditLog.open(path, { flushMs: 1, coalesceMs: 1000, now: () => clock })
    for (let i = 0; i < 10; i++) for (const e of rejected(i)) log.append(e)
    clock = 1500
    for (let i = 10; i < 20; i++) for (const e of rejected(i)) log.append(e)
    const ok = { sessionId: 'good', direction: 'inbound', peerId: PEER } as const
    log.append({ ...ok, state: 'L_PROCESS_CONTACT', previousState: null, at: 5000 })
    log.append({ ...ok, state: 'L_SEND_RESPONSE', previousState: 'L_PROCESS_CONTACT', at: 5001 })
    await log.close()
    const written = await lines(path)
    const counts = written.filter((l) => l.count !== undefined).map((l) => l.count)
    expect(counts).toEqual([9, 9])
    expect(written.filter((l) => l.sessionId === 'good').map((l) => l.state)).toEqual([
      'L_PROCESS_CONTACT',
      'L_SEND_RESPONSE'
    ])
    // reopen: counted records are part of the trail
    const again = await AuditLog.open(path)
    expect(
      (await again.query({ limit: 100 })).filter((e) => (e as { count?: number }).count === 9)
    ).toHaveLength(2)
    await again.close()
  })

  it('many peers: past the per-window budget new peers share one counted record', async () => {
    const path = join(dir, 'audit.jsonl')
    const log = await AuditLog.open(path, { flushMs: 1 })
    for (let i = 0; i < 3000; i++) for (const e of rejected(i, `peer-${i}`)) log.append(e)
    await log.close()
    const written = await lines(path)
    expect(written.length).toBeLessThan(2 * 1000 + 10)
    // the first 1000 peers are recorded in full, the other 2000 contacts in one record
    expect(written.at(-1)).toMatchObject({ peerId: '*', count: 2000 })
  })

  it('rotation keeps the trail under its cap; query and a reopen reach across the files', async () => {
    const path = join(dir, 'audit.jsonl')
    const maxBytes = 64 * 1024
    const log = await AuditLog.open(path, { flushMs: 0, coalesceMs: 0, maxBytes, files: 4, memoryEvents: 10 })
    for (let i = 0; i < 3000; i++) {
      log.append({ ...rejected(i)[0], direction: 'outbound', state: 'D_SEND_CONTACT' })
      if (i % 100 === 99) await log.flush()
    }
    await log.close()
    const names = (await readdir(dir)).sort()
    expect(names).toEqual([
      'audit.1.jsonl',
      'audit.2.jsonl',
      'audit.3.jsonl',
      'audit.head.json',
      'audit.jsonl'
    ])
    // a rotation happens after a write that reaches maxBytes / files: at most one batch over
    // (each line carries its 43-character chain hash)
    expect(await folderBytes(dir)).toBeLessThanOrEqual(maxBytes + 100 * 260)
    const again = await AuditLog.open(path, { maxBytes, files: 4 })
    const all = await again.query({ limit: 5000 })
    expect(all.length).toBeGreaterThan(200)
    expect(all.every((e, i) => i === 0 || (all[i - 1] as SessionEvent).at > e.at)).toBe(true)
    expect(all[0]?.at).toBe(1000 + 2999)
    await again.close()
  })
})

describe('disk guard', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-guard-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('under the reserve: new sessions get busy, tokens a StoreFullError; settle, revoke and reopen still work', async () => {
    const MiB = 1024 * 1024
    let free = 100 * MiB
    const statfs = async (): Promise<DiskStats> => ({
      bsize: 4096,
      bavail: Math.floor(free / 4096),
      blocks: (1024 * MiB) / 4096
    })
    const open = async (): Promise<Awaited<ReturnType<typeof openStore>>> =>
      openStore(dir, { statfs, diskReserveBytes: 64 * MiB, auditFlushMs: 1 })
    const store = await open()
    const { view, token } = await store.createToken({ role: 'stock', uses: 'unlimited' })
    const hooks = store.hooks(A)
    const info = await hooks.validateToken(token, ctx('s1'))
    await hooks.markTokenUsed!('token-text', 's1', tokenCtx(ctx('s1'), info))
    const { tally } = await hooks.provisionDatabase('stock', 'peer-B', 'peer-A', 's1', ctx('s1'))

    free = 10 * MiB
    // the guard reads statfs again once its figure is a second old; a guard against a hang, not a timing
    let busy: (Error & { reason?: string }) | undefined
    for (let i = 0; i < 100 && busy === undefined; i++) {
      busy = await hooks.validateToken(token, ctx(`s${i + 2}`)).then(
        () => undefined,
        (err: Error) => err
      )
      if (busy === undefined) await new Promise((r) => setTimeout(r, 50))
    }
    expect(busy).toMatchObject({ name: 'RejectedError', reason: 'busy' })
    expect(store.listTokens()).toHaveLength(1)
    const full = await rejection(store.createToken({ role: 'stock' }))
    expect(full.name).toBe('StoreFullError')
    expect(full.message).toContain('MiB free')
    // what keeps existing state consistent still goes through from the reserve
    await hooks.settleTally!(tally.tallyId, 'confirmed', ctx('s1'))
    expect((await store.revokeToken(view.tokenId)).status).toBe('revoked')
    await store.close()

    const again = await open()
    expect(again.listTallies()).toEqual([
      expect.objectContaining({ tallyId: tally.tallyId, status: 'confirmed' })
    ])
    expect(again.getToken(view.tokenId)?.status).toBe('revoked')
    expect((await rejection(again.createToken({ role: 'stock' }))).name).toBe('StoreFullError')
    await again.close()
  })
})
