/**
 * Failure cases end to end with the real store: token refusals, role and identity checks, hooks that
 * throw or hang, either side going away mid-flow, the session cap, malformed frames and failover.
 * Every case ends with both managers idle and nothing half-done in the stores.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { MAX_FRAME_BYTES } from '../../main/bootstrap/index.ts'
import type { PartyRole, SessionHooks } from '../../main/bootstrap/index.ts'
import {
  World,
  eventually,
  expectIdle,
  finished,
  gate,
  outcome,
  tallyOnDisk,
  type Party
} from '../helpers/bootstrap-world.ts'
import { frameBytes, rawClient } from '../helpers/raw-client.ts'
import { deadPort } from './protocol-helpers.ts'

type HookName = keyof SessionHooks

/** The store's hooks with `name` replaced by one that throws. */
function throwing(name: HookName): (hooks: SessionHooks) => SessionHooks {
  return (hooks) => ({
    ...hooks,
    [name]: async () => {
      throw new Error(`${name} broke`)
    }
  })
}

describe('bootstrap failures with the real store', () => {
  const world = new World()
  afterEach(async () => world.close())

  async function pair(
    initA: Parameters<World['listener']>[0] = {},
    initB: Parameters<World['listener']>[0] = {}
  ): Promise<[Party, Party]> {
    const a = await world.listener(initA)
    const [b] = (await world.dialers(1, initB)) as [Party]
    return [a, b]
  }

  it('expired, revoked and unknown tokens: RejectedError with the reason on B, L_FAILED on A, no use taken', async () => {
    const [a, b] = await pair()
    const expiring = await a.createToken({ role: 'stock', expiresInMs: 60_000 })
    const revoked = await a.createToken({ role: 'stock' })
    await a.store.revokeToken(revoked.view.tokenId)
    a.skewMs = 61_000
    const cases: Array<[string, typeof expiring.link, string]> = [
      ['expired', expiring.link, 'token-expired'],
      ['revoked', revoked.link, 'token-revoked'],
      ['unknown', { ...revoked.link, token: 'tk-unknown-text' }, 'invalid-token']
    ]
    for (const [name, link, reason] of cases) {
      const { error } = await outcome(b.manager.initiateBootstrap(link, b.node))
      expect(error, name).toMatchObject({ name: 'RejectedError', reason })
    }
    const ends = await finished(a, 3)
    expect(ends.map((e) => [e.state, e.reason])).toEqual(cases.map(([, , r]) => ['L_FAILED', r]))
    // the operator sees which printed code is still in circulation; an unknown token names none
    expect(ends.map((e) => e.tokenId)).toEqual([expiring.view.tokenId, revoked.view.tokenId, undefined])
    expect(a.store.getToken(expiring.view.tokenId)?.used).toBe(0)
    expect(a.store.getToken(revoked.view.tokenId)?.used).toBe(0)
    expect(a.store.listTallies()).toEqual([])
    expect(b.store.listTallies()).toEqual([])
    await expectIdle([a.manager, b.manager])
  })

  it('role mismatch: B refuses with role-mismatch; A abandons its draft and gives the use back', async () => {
    const [a, b] = await pair()
    const { view, link } = await a.createToken({ role: 'stock', uses: 1 })
    const { error } = await outcome(b.manager.initiateBootstrap({ ...link, role: 'foil' }, b.node))
    expect(error).toMatchObject({ name: 'RejectedError', reason: 'role-mismatch' })
    const [endA] = await finished(a, 1)
    expect(endA).toMatchObject({ state: 'L_FAILED', reason: 'role-mismatch' })
    const [draft] = a.store.listTallies()
    expect(draft?.status).toBe('abandoned')
    expect((await tallyOnDisk(a.dir, draft!.tallyId))?.status).toBe('abandoned')
    expect(a.store.getToken(view.tokenId)).toMatchObject({ used: 0, status: 'active' })
    expect(b.store.listTallies()).toEqual([])
    // the use given back still works with the right role
    expect((await b.manager.initiateBootstrap(link, b.node)).role).toBe('stock')
    await expectIdle([a.manager, b.manager])
  })

  it('identity required: missing or blank fields → identity-required without consuming; complete → success', async () => {
    const [a, b] = await pair()
    const { view, link } = await a.createToken({
      role: 'foil',
      uses: 1,
      identityRequirements: ['email', 'name']
    })
    expect(link.identityRequirements).toEqual(['email', 'name'])
    const bundles: Array<Record<string, string>> = [
      {},
      { email: 'bo@example.org' },
      { email: 'bo@example.org', name: '  ' }
    ]
    for (const identityBundle of bundles) {
      const { error } = await outcome(b.manager.initiateBootstrap(link, b.node, { identityBundle }))
      expect(error).toMatchObject({ name: 'RejectedError', reason: 'identity-required' })
    }
    expect(a.store.getToken(view.tokenId)?.used).toBe(0)
    const ok = await b.manager.initiateBootstrap(link, b.node, {
      identityBundle: { email: 'bo@example.org', name: 'Bo' }
    })
    expect(ok.role).toBe('foil')
    const ends = await finished(a, 4)
    expect(ends.map((e) => e.reason ?? e.state)).toEqual([
      'identity-required',
      'identity-required',
      'identity-required',
      'L_DONE'
    ])
    expect(a.store.getToken(view.tokenId)?.used).toBe(1)
    await expectIdle([a.manager, b.manager])
  })

  const hookCases: Array<{ side: 'A' | 'B'; hook: HookName; role: PartyRole; reason: string }> = [
    { side: 'A', hook: 'validateToken', role: 'stock', reason: 'internal-error' },
    { side: 'A', hook: 'validateIdentity', role: 'stock', reason: 'internal-error' },
    { side: 'A', hook: 'markTokenUsed', role: 'foil', reason: 'internal-error' },
    { side: 'A', hook: 'provisionDatabase', role: 'stock', reason: 'provision-failed' },
    { side: 'A', hook: 'validateDatabaseResult', role: 'foil', reason: 'internal-error' },
    { side: 'A', hook: 'settleTally', role: 'foil', reason: 'internal-error' },
    { side: 'B', hook: 'validateResponse', role: 'stock', reason: 'internal-error' },
    { side: 'B', hook: 'provisionDatabase', role: 'foil', reason: 'provision-failed' }
  ]

  it.each(hookCases)(
    '$side $hook throwing ($role) → both sides fail with $reason, no tally confirmed, use given back',
    async ({ side, hook, role, reason }) => {
      const [a, b] = await pair(
        side === 'A' ? { wrapHooks: throwing(hook) } : {},
        side === 'B' ? { wrapHooks: throwing(hook) } : {}
      )
      const { view, link } = await a.createToken({ role, uses: 1 })
      const { error } = await outcome(b.manager.initiateBootstrap(link, b.node))
      expect(error?.reason).toBe(reason)
      // A's refusal reaches B as a RejectedError; B's own broken hook is B's HookFailedError
      expect(error?.name).toBe(side === 'A' ? 'RejectedError' : 'HookFailedError')
      const [endA] = await finished(a, 1)
      expect(endA).toMatchObject({ state: 'L_FAILED', reason })
      // a settleTally that throws cannot record its own abandonment: that draft is left for recover()
      const brokenSettle = side === 'A' && hook === 'settleTally'
      for (const t of a.store.listTallies()) expect(t.status).toBe(brokenSettle ? 'draft' : 'abandoned')
      for (const t of b.store.listTallies()) expect(t.status).toBe('abandoned')
      expect(a.store.getToken(view.tokenId)?.used).toBe(0)
      await expectIdle([a.manager, b.manager])
    }
  )

  it('A settleTally throwing after B acked (stock): A fails with a reset, B never reports success', async () => {
    const [a, b] = await pair({ wrapHooks: throwing('settleTally') })
    const { link } = await a.createToken({ role: 'stock', uses: 1 })
    const { error } = await outcome(b.manager.initiateBootstrap(link, b.node))
    expect(error?.name).toBe('StreamClosedError')
    expect((await finished(a, 1))[0]).toMatchObject({ state: 'L_FAILED', reason: 'internal-error' })
    // B's Ack was out and no verdict came back: pending until A answers a verdict query
    expect(b.store.listTallies().map((t) => t.status)).toEqual(['pending'])
    await expectIdle([a.manager, b.manager])
  })

  it('a hook hanging past its step timeout (ignoring its signal): A TIMEOUT with a reset, B fails', async () => {
    const entered = gate()
    const [a, b] = await pair(
      {
        config: { stepTimeoutMs: 300 },
        wrapHooks: (hooks) => ({
          ...hooks,
          provisionDatabase: async () => {
            entered.open()
            return new Promise(() => {})
          }
        })
      },
      { config: { stepTimeoutMs: 5000 } }
    )
    const { view, link } = await a.createToken({ role: 'stock', uses: 1 })
    const { error } = await outcome(b.manager.initiateBootstrap(link, b.node))
    await entered.promise
    expect(error?.name).toBe('StreamClosedError')
    expect((await finished(a, 1))[0]).toMatchObject({ state: 'L_TIMEOUT', reason: 'timeout' })
    expect(b.events.at(-1)).toMatchObject({ state: 'D_FAILED' })
    expect(a.store.getToken(view.tokenId)?.used).toBe(0)
    await expectIdle([a.manager, b.manager])
  })

  it("B's hook hanging past its step timeout: B TIMEOUT, A fails and abandons its draft", async () => {
    const [a, b] = await pair(
      { config: { stepTimeoutMs: 5000 } },
      {
        config: { stepTimeoutMs: 300 },
        wrapHooks: (hooks) => ({ ...hooks, validateResponse: async () => new Promise<boolean>(() => {}) })
      }
    )
    const { view, link } = await a.createToken({ role: 'stock', uses: 1 })
    const { error } = await outcome(b.manager.initiateBootstrap(link, b.node))
    expect(error).toMatchObject({ name: 'TimeoutError', reason: 'timeout' })
    expect(b.events.at(-1)).toMatchObject({ state: 'D_TIMEOUT', reason: 'timeout' })
    expect((await finished(a, 1))[0]?.state).toBe('L_FAILED')
    expect(a.store.listTallies().map((t) => t.status)).toEqual(['abandoned'])
    expect(a.store.getToken(view.tokenId)?.used).toBe(0)
    await expectIdle([a.manager, b.manager])
  })

  it('listener closing mid-flow (while B awaits a decision): A fails, B sees the reset, nothing hangs', async () => {
    const [a, b] = await pair()
    const { view, link } = await a.createToken({ role: 'stock', approval: 'operator' })
    const dial = outcome(b.manager.initiateBootstrap(link, b.node))
    await eventually(() => (a.store.listApprovals().length === 1 ? true : undefined))
    await a.stop()
    const { error } = await dial
    expect(error?.name).toBe('StreamClosedError')
    expect(a.events.at(-1)).toMatchObject({ state: 'L_FAILED', reason: 'internal-error' })
    expect(a.store.getToken(view.tokenId)?.used).toBe(0)
    await expectIdle([a.manager, b.manager])
  })

  it('listener closing mid-flow with a draft: the draft ends abandoned on disk', async () => {
    const entered = gate()
    const hold = gate()
    const [a, b] = await pair(
      {},
      {
        wrapHooks: (hooks) => ({
          ...hooks,
          validateResponse: async (response, ctx) => {
            entered.open()
            await hold.promise
            return hooks.validateResponse!(response, ctx)
          }
        })
      }
    )
    const { link } = await a.createToken({ role: 'stock' })
    const dial = outcome(b.manager.initiateBootstrap(link, b.node))
    await entered.promise
    await a.stop()
    hold.open()
    expect((await dial).error?.name).toBe('StreamClosedError')
    const [draft] = a.store.listTallies()
    expect((await tallyOnDisk(a.dir, draft!.tallyId))?.status).toBe('abandoned')
    expect(b.store.listTallies().map((t) => t.status)).toEqual(['abandoned'])
    await expectIdle([a.manager, b.manager])
  })

  it('dialer vanishing mid-flow: A ends failed, abandons its draft and gives the use back', async () => {
    const entered = gate()
    const [a, b] = await pair(
      {},
      {
        wrapHooks: (hooks) => ({
          ...hooks,
          validateResponse: async () => {
            entered.open()
            return new Promise<boolean>(() => {})
          }
        })
      }
    )
    const { view, link } = await a.createToken({ role: 'stock', uses: 1 })
    const dial = outcome(b.manager.initiateBootstrap(link, b.node))
    await entered.promise
    await b.node.stop()
    const [endA] = await finished(a, 1)
    expect(['L_FAILED', 'L_TIMEOUT']).toContain(endA?.state)
    expect(a.store.listTallies().map((t) => t.status)).toEqual(['abandoned'])
    expect(a.store.getToken(view.tokenId)).toMatchObject({ used: 0, status: 'active' })
    expect((await dial).error).toBeDefined()
    await expectIdle([a.manager, b.manager])
  })

  it('busy over the cap: a contact beyond maxConcurrentSessions is refused at once and is no session', async () => {
    const [a, b] = await pair({ config: { maxConcurrentSessions: 1 } })
    const held = await a.createToken({ role: 'stock', approval: 'operator' })
    const other = await a.createToken({ role: 'stock' })
    const first = b.manager.initiateBootstrap(held.link, b.node)
    const approval = await eventually(() => a.store.listApprovals()[0])
    const { error } = await outcome(b.manager.initiateBootstrap(other.link, b.node))
    expect(error).toMatchObject({ name: 'RejectedError', reason: 'busy' })
    expect(new Set(a.events.map((e) => e.sessionId))).toEqual(new Set([approval.sessionId]))
    expect(a.store.getToken(other.view.tokenId)?.used).toBe(0)
    expect((await a.store.decide(approval.sessionId, 'approve')).applied).toBe(true)
    expect((await first).role).toBe('stock')
    await expectIdle([a.manager, b.manager])
  })

  it.each([
    ['bad JSON', frameBytes('{"type":"InboundContact",')],
    ['oversize', new Uint8Array(MAX_FRAME_BYTES + 1).fill(0x20)],
    ['wrong type', frameBytes({ type: 'DatabaseResult', tally: {}, dbConnectionInfo: {} })],
    ['unknown type', frameBytes({ type: 'Hello' })],
    ['missing fields', frameBytes({ type: 'InboundContact', token: 'x', partyId: 'p' })]
  ])(
    'malformed frame over a raw stream (%s) → bad-message rejection, read back by the client',
    async (_n, body) => {
      const [a, b] = await pair()
      const { view } = await a.createToken({ role: 'stock', uses: 1 })
      const client = await rawClient(b.node, a.addrs()[0]!)
      await client.send(body)
      const { frames, end } = await client.readAll()
      await client.close()
      expect(frames.map((f) => f.json)).toEqual([
        { type: 'ProvisioningResult', approved: false, reason: 'bad-message' }
      ])
      expect(end).toBe('eof')
      expect((await finished(a, 1))[0]).toMatchObject({ state: 'L_FAILED', reason: 'bad-message' })
      expect(a.store.getToken(view.tokenId)?.used).toBe(0)
      expect(a.store.listTallies()).toEqual([])
      await expectIdle([a.manager, b.manager])
    }
  )

  it('failover: a dead first responder address, the second one answers', async () => {
    const [a, b] = await pair()
    const { link } = await a.createToken({ role: 'foil' })
    const dead = `/ip4/127.0.0.1/tcp/${await deadPort()}/p2p/${a.peerId}`
    const { error } = await outcome(
      b.manager.initiateBootstrap({ ...link, responderPeerAddrs: [dead] }, b.node)
    )
    expect(error?.name).toBe('DialFailedError')
    const result = await b.manager.initiateBootstrap(
      { ...link, responderPeerAddrs: [dead, ...link.responderPeerAddrs] },
      b.node
    )
    expect(result.role).toBe('foil')
    expect(a.store.getTally(result.tally.tallyId)?.status).toBe('confirmed')
    await expectIdle([a.manager, b.manager])
  })

  it('our own node stopped: NodeNotStartedError before anything is dialled (not the other side "not answering")', async () => {
    const [a, b] = await pair()
    const { link } = await a.createToken({ role: 'stock' })
    await b.node.stop()
    const { error } = await outcome(b.manager.initiateBootstrap(link, b.node))
    expect(error?.name).toBe('NodeNotStartedError')
    expect(a.store.listTallies()).toEqual([])
  })
})
