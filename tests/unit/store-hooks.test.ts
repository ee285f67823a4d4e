import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Direction, HookContext, ProvisionResult, SessionEvent } from '../../main/bootstrap/types.ts'
import type { ApprovalView } from '../../preload/contract.ts'
import { tokenCtx } from '../helpers/hook-context.ts'
import { storeKinds } from '../helpers/stores.ts'
import type { TestStore } from '../helpers/stores.ts'

const A = { peerId: 'peer-A', multiaddrs: () => ['/ip4/127.0.0.1/tcp/4001/p2p/peer-A'] }
const B = { peerId: 'peer-B', multiaddrs: () => ['/ip4/127.0.0.1/tcp/4002/p2p/peer-B'] }

function ctx(
  sessionId: string,
  direction: Direction = 'inbound',
  signal = new AbortController().signal
): HookContext {
  return { sessionId, direction, remotePeerId: direction === 'inbound' ? 'peer-B' : 'peer-A', signal }
}

async function rejection(p: Promise<unknown>): Promise<{ name: string; reason?: string }> {
  try {
    await p
  } catch (err) {
    return { name: (err as Error).name, reason: (err as { reason?: string }).reason }
  }
  throw new Error('expected a rejection')
}

function nextEvent<T>(store: TestStore, type: 'approval' | 'approval-resolved'): Promise<T> {
  return new Promise((resolve) => {
    store.addEventListener(type, (e) => resolve((e as CustomEvent<T>).detail), { once: true })
  })
}

describe.each(storeKinds())('store hooks ($name)', (kind) => {
  let dir: string
  let store: TestStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-store-'))
    store = await kind.open(dir)
  })

  afterEach(async () => {
    await store.close()
    await kind.cleanup()
    await rm(dir, { recursive: true, force: true })
  })

  it('identity: each required field present and non-empty; a failure does not consume the token', async () => {
    const { view, token } = await store.createToken({
      role: 'stock',
      identityRequirements: ['email', 'name']
    })
    const hooks = store.hooks(A)
    const info = await hooks.validateToken(token, ctx('i1'))
    for (const bundle of [
      {},
      { email: 'a@b.c' },
      { email: 'a@b.c', name: '   ' },
      { email: 'a@b.c', name: 7 as unknown as string },
      null as unknown as Record<string, string>
    ]) {
      expect(await rejection(hooks.validateIdentity!(bundle, undefined, tokenCtx(ctx('i1'), info)))).toEqual({
        name: 'RejectedError',
        reason: 'identity-required'
      })
    }
    // an inherited property is not a field the dialer sent
    expect(
      await rejection(
        hooks.validateIdentity!(
          Object.create({ email: 'x', name: 'y' }) as Record<string, string>,
          undefined,
          tokenCtx(ctx('i1'), info)
        )
      )
    ).toMatchObject({ reason: 'identity-required' })
    expect(store.getToken(view.tokenId)?.used).toBe(0)
    expect(
      await hooks.validateIdentity!({ email: 'a@b.c', name: 'Ann' }, undefined, tokenCtx(ctx('i1'), info))
    ).toBe(true)
  })

  it('operator approval: approve returns true, a second decision is not applied', async () => {
    const { view, token } = await store.createToken({ role: 'stock', approval: 'operator', label: 'desk' })
    const hooks = store.hooks(A)
    const info = await hooks.validateToken(token, ctx('op1'))
    const requested = nextEvent<ApprovalView>(store, 'approval')
    const resolved = nextEvent<{ sessionId: string; decision: string }>(store, 'approval-resolved')
    const waiting = hooks.validateIdentity!({ email: 'a@b.c' }, undefined, tokenCtx(ctx('op1'), info))
    const approval = await requested
    expect(approval).toMatchObject({
      sessionId: 'op1',
      tokenId: view.tokenId,
      tokenLabel: 'desk',
      peerId: 'peer-B',
      bundle: { email: 'a@b.c' }
    })
    expect(approval.deadline - approval.requestedAt).toBe(120_000)
    expect(store.listApprovals().map((a) => a.sessionId)).toEqual(['op1'])
    const [first, second] = await Promise.all([store.decide('op1', 'approve'), store.decide('op1', 'reject')])
    expect(first).toEqual({ sessionId: 'op1', decision: 'approve', applied: true })
    expect(second).toEqual({ sessionId: 'op1', decision: 'reject', applied: false })
    expect(await waiting).toBe(true)
    expect(await resolved).toEqual({ sessionId: 'op1', decision: 'approve' })
    expect(store.listApprovals()).toEqual([])
    expect(await store.decide('unknown-session', 'approve')).toEqual({
      sessionId: 'unknown-session',
      decision: 'approve',
      applied: false
    })
  })

  it('operator approval: reject → identity-rejected; deadline → timeout; session end → its abort reason', async () => {
    // the decided and the cut waits get an hour: only the one meant to time out may, on a loaded machine
    const { token } = await store.createToken({
      role: 'stock',
      uses: 'unlimited',
      approval: 'operator',
      approvalTimeoutMs: 3_600_000
    })
    const { token: hasty } = await store.createToken({
      role: 'stock',
      uses: 'unlimited',
      approval: 'operator',
      approvalTimeoutMs: 20
    })
    const hooks = store.hooks(A)
    const info = await hooks.validateToken(token, ctx('r'))
    const hastyInfo = await hooks.validateToken(hasty, ctx('h'))
    const resolvedEvents: Array<{ sessionId: string; decision: string }> = []
    store.addEventListener('approval-resolved', (e) => resolvedEvents.push(e.detail))

    const rejected = hooks.validateIdentity!({}, undefined, tokenCtx(ctx('rej'), info))
    // a store on a database settles the wait from another I/O turn than decide's: handle it from the start
    rejected.catch(() => {})
    expect((await store.decide('rej', 'reject')).applied).toBe(true)
    expect(await rejection(rejected)).toEqual({ name: 'RejectedError', reason: 'identity-rejected' })

    expect(await rejection(hooks.validateIdentity!({}, undefined, tokenCtx(ctx('late'), hastyInfo)))).toEqual(
      {
        name: 'RejectedError',
        reason: 'timeout'
      }
    )
    expect((await store.decide('late', 'approve')).applied).toBe(false)

    const controller = new AbortController()
    const cut = hooks.validateIdentity!(
      {},
      undefined,
      tokenCtx(ctx('cut', 'inbound', controller.signal), info)
    )
    const reason = new Error('session over')
    reason.name = 'AbortError'
    controller.abort(reason)
    expect((await rejection(cut)).name).toBe('AbortError')
    expect(resolvedEvents).toEqual([
      { sessionId: 'rej', decision: 'reject' },
      { sessionId: 'late', decision: 'timeout' },
      { sessionId: 'cut', decision: 'timeout' }
    ])
    expect(store.listApprovals()).toEqual([])
  })

  it('stock provision: a unique draft tally per session, listed at once, on disk with its settlement', async () => {
    const { view, token } = await store.createToken({ role: 'stock', uses: 'unlimited', label: 'till' })
    const hooks = store.hooks(A)
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await hooks.validateToken(token, ctx(`p${i}`))
        return hooks.provisionDatabase('stock', 'peer-B', 'peer-A', `p${i}`, ctx(`p${i}`))
      })
    )
    expect(new Set(results.map((r) => r.tally.tallyId)).size).toBe(20)
    const first = results[0] as ProvisionResult
    expect(first.tally).toMatchObject({
      createdBy: 'stock',
      initiatorPeerId: 'peer-B',
      respondentPeerId: 'peer-A'
    })
    expect(first.dbConnectionInfo.nodes).toEqual(A.multiaddrs())
    expect(first.dbConnectionInfo.credentials).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(new Set(results.map((r) => r.dbConnectionInfo.credentials)).size).toBe(20)
    // a listener's draft (lowdb) is held in memory: its first line is its settlement, written before that returns
    const lines = async (): Promise<string[]> =>
      (await readFile(join(dir, 'tallies.jsonl'), 'utf8').catch(() => '')).split('\n').filter((l) => l !== '')
    if (kind.name === 'lowdb') expect(await lines()).toEqual([])
    const tallies = store.listTallies()
    expect(tallies).toHaveLength(20)
    expect(tallies.find((t) => t.tallyId === first.tally.tallyId)).toMatchObject({
      role: 'stock',
      direction: 'inbound',
      status: 'draft',
      counterpartyPeerId: 'peer-B',
      localPeerId: 'peer-A',
      sessionId: 'p0',
      tokenId: view.tokenId,
      tokenLabel: 'till'
    })
    expect(JSON.stringify(tallies)).not.toContain(first.dbConnectionInfo.credentials)

    const changes: string[] = []
    store.addEventListener('tally', (e) => changes.push(`${e.detail.tallyId}:${e.detail.status}`))
    await hooks.settleTally!(first.tally.tallyId, 'confirmed', ctx('p0'))
    if (kind.name === 'lowdb') {
      expect(await lines()).toHaveLength(1)
      expect((await lines())[0]).toContain('"confirmed"')
    }
    // settled once: a later settle does not change it
    await hooks.settleTally!(first.tally.tallyId, 'abandoned', ctx('p0'))
    expect(changes).toEqual([`${first.tally.tallyId}:confirmed`])
    expect(store.listTallies().find((t) => t.tallyId === first.tally.tallyId)?.status).toBe('confirmed')
  })

  it('dialer side: validateResponse checks the response and records a stock tally; foil provision is outbound', async () => {
    const a = await store.createToken({ role: 'stock' })
    const remote = store.hooks(A)
    await remote.validateToken(a.token, ctx('sA'))
    const provisioned = await remote.provisionDatabase('stock', 'peer-B', 'peer-A', 'sA', ctx('sA'))

    // B's own store in another folder
    const dirB = await mkdtemp(join(tmpdir(), 'taleus-store-b-'))
    const storeB = await kind.open(dirB)
    try {
      const hooks = storeB.hooks(B)
      const good = {
        approved: true as const,
        role: 'stock' as const,
        partyId: 'peer-A',
        cadrePeerAddrs: ['/ip4/127.0.0.1/tcp/4001'],
        provisionResult: provisioned
      }
      expect(await hooks.validateResponse!({ ...good, partyId: 'peer-X' }, ctx('sB', 'outbound'))).toBe(false)
      expect(
        await hooks.validateResponse!({ ...good, provisionResult: undefined }, ctx('sB', 'outbound'))
      ).toBe(false)
      const wrongParty = { ...provisioned, tally: { ...provisioned.tally, initiatorPeerId: 'peer-C' } }
      expect(
        await hooks.validateResponse!({ ...good, provisionResult: wrongParty }, ctx('sB', 'outbound'))
      ).toBe(false)
      const noCreds = { ...provisioned, dbConnectionInfo: { nodes: [], credentials: '' } }
      expect(
        await hooks.validateResponse!({ ...good, provisionResult: noCreds }, ctx('sB', 'outbound'))
      ).toBe(false)
      expect(storeB.listTallies()).toEqual([])

      expect(await hooks.validateResponse!(good, ctx('sB', 'outbound'))).toBe(true)
      // the same tally id cannot be recorded twice
      expect(await hooks.validateResponse!(good, ctx('sB2', 'outbound'))).toBe(false)
      expect(storeB.listTallies()).toEqual([
        expect.objectContaining({
          tallyId: provisioned.tally.tallyId,
          role: 'stock',
          direction: 'outbound',
          status: 'draft',
          counterpartyPeerId: 'peer-A',
          localPeerId: 'peer-B'
        })
      ])
      expect(
        await hooks.validateResponse!(
          { approved: true, role: 'foil', partyId: 'peer-A', cadrePeerAddrs: [] },
          ctx('sF', 'outbound')
        )
      ).toBe(true)

      // foil: B provisions (outbound), A validates and records it (inbound)
      const foil = await hooks.provisionDatabase('foil', 'peer-B', 'peer-A', 'sF', ctx('sF', 'outbound'))
      expect(storeB.listTallies().find((t) => t.tallyId === foil.tally.tallyId)).toMatchObject({
        direction: 'outbound',
        role: 'foil',
        counterpartyPeerId: 'peer-A'
      })
      const f = await store.createToken({ role: 'foil', label: 'foil desk' })
      await remote.validateToken(f.token, ctx('sAF'))
      expect(
        await remote.validateDatabaseResult!(
          { ...foil, tally: { ...foil.tally, createdBy: 'stock' } },
          ctx('sAF')
        )
      ).toBe(false)
      expect(await remote.validateDatabaseResult!(foil, ctx('sAF'))).toBe(true)
      expect(store.listTallies().find((t) => t.tallyId === foil.tally.tallyId)).toMatchObject({
        direction: 'inbound',
        role: 'foil',
        status: 'draft',
        counterpartyPeerId: 'peer-B',
        tokenId: f.view.tokenId,
        tokenLabel: 'foil desk'
      })
    } finally {
      await storeB.close()
      await rm(dirB, { recursive: true, force: true })
    }
  })

  it('a provision whose session was aborted meanwhile is settled abandoned', async () => {
    const controller = new AbortController()
    const hooks = store.hooks(A)
    const aborted = new AbortController()
    aborted.abort(new Error('gone'))
    expect(
      (
        await rejection(
          hooks.provisionDatabase('stock', 'peer-B', 'peer-A', 'x', ctx('x', 'inbound', aborted.signal))
        )
      ).name
    ).toBe('Error')
    expect(store.listTallies()).toEqual([])
    const p = hooks.provisionDatabase(
      'stock',
      'peer-B',
      'peer-A',
      'y',
      ctx('y', 'inbound', controller.signal)
    )
    controller.abort(new Error('gone'))
    await expect(p).rejects.toThrow()
    expect(store.listTallies().map((t) => t.status)).toEqual(['abandoned'])
  })

  it('audit: logSessionEvent keeps only event fields, never throws, lists newest first with limit/before/sessionId', async () => {
    const hooks = store.hooks(A)
    const base = { direction: 'inbound', peerId: 'peer-B' } as const
    for (let i = 0; i < 30; i++) {
      const event = {
        ...base,
        sessionId: `s${i % 3}`,
        state: 'L_PROCESS_CONTACT',
        previousState: null,
        at: 1000 + i,
        token: 'SECRET-TOKEN'
      } as SessionEvent
      await hooks.logSessionEvent!(event.sessionId, event)
    }
    await hooks.logSessionEvent!('bad', null as unknown as SessionEvent)
    const all = store.listAudit({})
    expect(all).toHaveLength(30)
    expect(all[0]?.at).toBe(1029)
    expect(all.every((e, i) => i === 0 || (all[i - 1] as SessionEvent).at > e.at)).toBe(true)
    expect(store.listAudit({ limit: 5 }).map((e) => e.at)).toEqual([1029, 1028, 1027, 1026, 1025])
    expect(store.listAudit({ before: 1003 }).map((e) => e.at)).toEqual([1002, 1001, 1000])
    expect(store.listAudit({ sessionId: 's1', limit: 3 }).map((e) => e.at)).toEqual([1028, 1025, 1022])
    expect(await store.queryAudit({ sessionId: 's1', limit: 3 })).toEqual(
      store.listAudit({ sessionId: 's1', limit: 3 })
    )
    expect(JSON.stringify(all)).not.toContain('SECRET-TOKEN')
    await store.close()
    if (kind.name === 'lowdb')
      expect(await readFile(join(dir, 'audit.jsonl'), 'utf8')).not.toContain('SECRET-TOKEN')
  })
})
