import { afterEach, describe, expect, it } from 'vitest'
import {
  BadMessageError,
  BootstrapError,
  MAX_FRAME_BYTES,
  RejectedError
} from '../../main/bootstrap/index.ts'
import type { ProvisionResult } from '../../main/bootstrap/index.ts'
import { createTaleusNode } from '../../main/node/index.ts'
import {
  bytes,
  deadPort,
  gate,
  makePair,
  nextTerminal,
  rawExchange,
  recordEvents,
  whenIdle
} from './protocol-helpers.ts'
import type { HookOverride, Pair } from './protocol-helpers.ts'

async function settled<T>(promise: Promise<T>): Promise<{ value?: T; error?: BootstrapError }> {
  try {
    return { value: await promise }
  } catch (error) {
    return { error: error as BootstrapError }
  }
}

/** A validateIdentity that opens `entered` and then decides nothing until its signal aborts. */
function undecided(entered: { open(): void }) {
  return (_b: unknown, _t: unknown, ctx: { signal: AbortSignal }): Promise<boolean> => {
    entered.open()
    return new Promise((_resolve, reject) =>
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))
    )
  }
}

async function expectIdle(pair: Pair): Promise<void> {
  // A may record its last transition just after B returned: wait for it, then check both counts
  await whenIdle(pair.managerA)
  expect(pair.managerA.getActiveListenerCount()).toBe(0)
  expect(pair.managerB.getActiveDialerCount()).toBe(0)
}

describe('bootstrap failures', () => {
  let pair: Pair | undefined
  afterEach(async () => {
    await pair?.close()
    pair = undefined
  })

  it('unknown token: rejected with invalid-token and nothing of A in the rejection', async () => {
    pair = await makePair({ cadrePeerAddrs: () => ['/ip4/10.0.0.1/tcp/1'] })
    const endA = nextTerminal(pair.managerA)
    const { error } = await settled(
      pair.managerB.initiateBootstrap(pair.link('no-such-token', 'stock'), pair.b)
    )
    expect(error?.name).toBe('RejectedError')
    expect(error?.reason).toBe('invalid-token')
    expect((await endA).state).toBe('L_FAILED')
    expect((await endA).reason).toBe('invalid-token')
    const contact = {
      type: 'InboundContact',
      token: 'no-such-token',
      partyId: pair.b.peerId.toString(),
      identityBundle: {},
      cadrePeerAddrs: []
    }
    const { replies } = await rawExchange(pair.b, pair.a, [bytes(contact)])
    expect(replies).toEqual([{ type: 'ProvisioningResult', approved: false, reason: 'invalid-token' }])
    await expectIdle(pair)
  })

  it('role mismatch: B refuses with role-mismatch, A ends failed, abandons its tally, releases the use', async () => {
    pair = await makePair()
    pair.hooksA.addToken('stock-token-2', 'stock', {}, 1)
    const endA = nextTerminal(pair.managerA)
    const { error } = await settled(
      pair.managerB.initiateBootstrap(pair.link('stock-token-2', 'foil'), pair.b)
    )
    expect(error?.reason).toBe('role-mismatch')
    const a = await endA
    expect(a.state).toBe('L_FAILED')
    expect(a.reason).toBe('role-mismatch')
    expect([...pair.hooksA.tallies.values()].map((t) => t.status)).toEqual(['abandoned'])
    expect(pair.hooksA.released).toEqual(['id-stoc'])
    expect(pair.hooksA.tokens.get('stock-token-2')?.uses).toBe(1)
    await expectIdle(pair)
  })

  it('party mismatch: a contact naming another peer is rejected before the token is looked at', async () => {
    pair = await makePair()
    pair.hooksA.addToken('stock-token-3', 'stock')
    const endA = nextTerminal(pair.managerA)
    const contact = {
      type: 'InboundContact',
      token: 'stock-token-3',
      partyId: pair.a.peerId.toString(),
      identityBundle: {},
      cadrePeerAddrs: []
    }
    const { replies } = await rawExchange(pair.b, pair.a, [bytes(contact)])
    expect(replies).toEqual([{ type: 'ProvisioningResult', approved: false, reason: 'party-mismatch' }])
    expect((await endA).reason).toBe('party-mismatch')
    expect(pair.hooksA.calls).toEqual([])
    await expectIdle(pair)
  })

  it('identity required: a missing field is refused with identity-required', async () => {
    pair = await makePair()
    pair.hooksA.addToken('stock-token-4', 'stock', { identityRequirements: ['email'] })
    const { error } = await settled(
      pair.managerB.initiateBootstrap(pair.link('stock-token-4', 'stock'), pair.b, {
        identityBundle: { name: 'x' }
      })
    )
    expect(error?.reason).toBe('identity-required')
    const ok = await pair.managerB.initiateBootstrap(pair.link('stock-token-4', 'stock'), pair.b, {
      identityBundle: { email: 'b@example.org' }
    })
    expect(ok.role).toBe('stock')
  })

  const garbage = async (): Promise<unknown> => ({ nope: true })
  const boom = async (): Promise<never> => {
    throw new Error('boom')
  }
  const cases: Array<{
    name: string
    role: 'stock' | 'foil'
    side: 'A' | 'B'
    hook:
      | 'validateToken'
      | 'validateIdentity'
      | 'markTokenUsed'
      | 'provisionDatabase'
      | 'validateResponse'
      | 'validateDatabaseResult'
      | 'settleTally'
    impl: HookOverride
    reason: string
  }> = [
    {
      name: 'validateToken throws',
      role: 'stock',
      side: 'A',
      hook: 'validateToken',
      impl: boom,
      reason: 'internal-error'
    },
    {
      name: 'validateToken returns garbage',
      role: 'stock',
      side: 'A',
      hook: 'validateToken',
      impl: garbage,
      reason: 'internal-error'
    },
    {
      name: 'validateToken rejects token-expired',
      role: 'stock',
      side: 'A',
      hook: 'validateToken',
      impl: async () => {
        throw new RejectedError('token-expired')
      },
      reason: 'token-expired'
    },
    {
      name: 'validateIdentity throws RejectedError',
      role: 'stock',
      side: 'A',
      hook: 'validateIdentity',
      impl: async () => {
        throw new RejectedError('identity-rejected')
      },
      reason: 'identity-rejected'
    },
    {
      name: 'validateIdentity returns false',
      role: 'foil',
      side: 'A',
      hook: 'validateIdentity',
      impl: async () => false,
      reason: 'identity-rejected'
    },
    {
      name: 'markTokenUsed says token-used',
      role: 'stock',
      side: 'A',
      hook: 'markTokenUsed',
      impl: async () => {
        throw new RejectedError('token-used')
      },
      reason: 'token-used'
    },
    {
      name: 'A provisionDatabase throws',
      role: 'stock',
      side: 'A',
      hook: 'provisionDatabase',
      impl: boom,
      reason: 'provision-failed'
    },
    {
      name: 'A provisionDatabase returns garbage',
      role: 'stock',
      side: 'A',
      hook: 'provisionDatabase',
      impl: garbage,
      reason: 'provision-failed'
    },
    {
      name: 'B validateResponse returns false',
      role: 'stock',
      side: 'B',
      hook: 'validateResponse',
      impl: async () => false,
      reason: 'identity-rejected'
    },
    {
      name: 'B validateResponse throws',
      role: 'foil',
      side: 'B',
      hook: 'validateResponse',
      impl: boom,
      reason: 'internal-error'
    },
    {
      name: 'B provisionDatabase throws (foil)',
      role: 'foil',
      side: 'B',
      hook: 'provisionDatabase',
      impl: boom,
      reason: 'provision-failed'
    },
    {
      name: 'A validateDatabaseResult throws',
      role: 'foil',
      side: 'A',
      hook: 'validateDatabaseResult',
      impl: boom,
      reason: 'internal-error'
    },
    {
      name: 'A validateDatabaseResult returns false',
      role: 'foil',
      side: 'A',
      hook: 'validateDatabaseResult',
      impl: async () => false,
      reason: 'provision-failed'
    }
  ]

  it.each(cases)('$name → both sides fail with $reason', async ({ role, side, hook, impl, reason }) => {
    pair = await makePair()
    pair.hooksA.addToken('hook-token-1', role, {}, 1)
    ;(side === 'A' ? pair.hooksA : pair.hooksB).override[hook] = impl
    const endA = nextTerminal(pair.managerA)
    const { error } = await settled(pair.managerB.initiateBootstrap(pair.link('hook-token-1', role), pair.b))
    // a refusal (A's, or B's own verdict) is a RejectedError; B's own hook crashing is a HookFailedError
    expect(error?.name).toBe(side === 'B' && impl === boom ? 'HookFailedError' : 'RejectedError')
    expect(error?.reason).toBe(reason)
    const a = await endA
    expect(a.state).toBe('L_FAILED')
    expect(a.reason).toBe(reason)
    for (const t of [...pair.hooksA.tallies.values(), ...pair.hooksB.tallies.values()])
      expect(t.status).toBe('abandoned')
    // a use taken by markTokenUsed is given back
    expect(pair.hooksA.tokens.get('hook-token-1')?.uses).toBe(1)
    await expectIdle(pair)
  })

  it('A settleTally failing after the Ack resets the stream: B never reports success', async () => {
    pair = await makePair()
    pair.hooksA.addToken('settle-token', 'stock')
    pair.hooksA.override.settleTally = async (_id: string, outcome: string) => {
      if (outcome === 'confirmed') throw new Error('disk full')
    }
    const endA = nextTerminal(pair.managerA)
    const { error } = await settled(
      pair.managerB.initiateBootstrap(pair.link('settle-token', 'stock'), pair.b)
    )
    expect(error?.name).toBe('StreamClosedError')
    expect((await endA).state).toBe('L_FAILED')
    // B's Ack was out and no verdict came back: only A can say (it asks later), B never guesses
    expect([...pair.hooksB.tallies.values()].map((t) => t.status)).toEqual(['pending'])
    await expectIdle(pair)
  })

  it.each(['stock', 'foil'] as const)(
    '%s: B gone once A has confirmed: A ends DONE (its tally is), B learns it from its verdict query',
    async (role) => {
      pair = await makePair()
      const p = pair
      p.hooksA.addToken(`gone-${role}`, role)
      // the connection drops just after A's confirmation, while it tells B (a wait here would drop it
      // during the confirmation, which A then abandons: B left before it was confirmed)
      p.hooksA.override.settleTally = async (_id: string, outcome: string) => {
        if (outcome === 'confirmed') void p.a.hangUp(p.b.peerId)
      }
      const endA = nextTerminal(p.managerA)
      await settled(p.managerB.initiateBootstrap(p.link(`gone-${role}`, role), p.b))
      const a = await endA
      expect(a.state).toBe('L_DONE')
      expect([...p.hooksA.tallies.values()].map((t) => t.status)).toEqual(['confirmed'])
      await expectIdle(p)
    }
  )

  it('A hook hanging past its step timeout (ignoring its signal): A TIMEOUT, B sees the reset', async () => {
    pair = await makePair({ stepTimeoutMs: 300 }, { stepTimeoutMs: 5000 })
    pair.hooksA.addToken('hang-token', 'stock', {}, 1)
    pair.hooksA.override.validateIdentity = () => new Promise(() => {})
    const endA = nextTerminal(pair.managerA)
    const { error } = await settled(pair.managerB.initiateBootstrap(pair.link('hang-token', 'stock'), pair.b))
    expect(['StreamClosedError', 'TimeoutError']).toContain(error?.name)
    const a = await endA
    expect(a.state).toBe('L_TIMEOUT')
    expect(a.reason).toBe('timeout')
    await expectIdle(pair)
  })

  it('B hook hanging past its step timeout: B TIMEOUT, A ends failed and abandons its tally', async () => {
    pair = await makePair({ stepTimeoutMs: 5000 }, { stepTimeoutMs: 300 })
    pair.hooksA.addToken('hang-token-b', 'stock', {}, 1)
    pair.hooksB.override.validateResponse = () => new Promise(() => {})
    const endA = nextTerminal(pair.managerA)
    const { error } = await settled(
      pair.managerB.initiateBootstrap(pair.link('hang-token-b', 'stock'), pair.b)
    )
    expect(error?.name).toBe('TimeoutError')
    expect(error?.reason).toBe('timeout')
    const a = await endA
    expect(a.state).toBe('L_FAILED')
    expect([...pair.hooksA.tallies.values()].map((t) => t.status)).toEqual(['abandoned'])
    expect(pair.hooksA.tokens.get('hang-token-b')?.uses).toBe(1)
    await expectIdle(pair)
  })

  it('busy: over maxConcurrentSessions a contact is refused at once and is not a session', async () => {
    pair = await makePair({ maxConcurrentSessions: 1 })
    pair.hooksA.addToken('busy-token', 'stock')
    const hold = gate()
    const entered = gate()
    pair.hooksA.override.validateIdentity = async () => {
      entered.open()
      await hold.promise
      return true
    }
    const eventsA = recordEvents(pair.managerA)
    const first = pair.managerB.initiateBootstrap(pair.link('busy-token', 'stock'), pair.b)
    await entered.promise
    const { error } = await settled(pair.managerB.initiateBootstrap(pair.link('busy-token', 'stock'), pair.b))
    expect(error?.reason).toBe('busy')
    expect(new Set(eventsA.map((e) => e.sessionId)).size).toBe(1)
    hold.open()
    expect((await first).role).toBe('stock')
    await expectIdle(pair)
  })

  it('failover: the first responder address is a dead port, the second works', async () => {
    pair = await makePair()
    pair.hooksA.addToken('failover-token', 'stock')
    const dead = `/ip4/127.0.0.1/tcp/${await deadPort()}/p2p/${pair.a.peerId.toString()}`
    const link = pair.link('failover-token', 'stock')
    // dead address only first: once connected, libp2p would reuse the connection for any address of A
    const { error } = await settled(
      pair.managerB.initiateBootstrap({ ...link, responderPeerAddrs: [dead] }, pair.b)
    )
    expect(error?.name).toBe('DialFailedError')
    link.responderPeerAddrs = [dead, ...link.responderPeerAddrs]
    const result = await pair.managerB.initiateBootstrap(link, pair.b)
    expect(result.role).toBe('stock')
    await expectIdle(pair)
  })

  it('an unreachable link says why, per address, in words a customer can act on (and never the token)', async () => {
    pair = await makePair({}, { dialTimeoutMs: 1500 })
    pair.hooksA.addToken('why-token', 'stock')
    const { createServer } = await import('node:net')
    const closer = createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => closer.listen(0, '127.0.0.1', resolve))
    const closerPort = (closer.address() as { port: number }).port
    // another node listening where the link says A is
    const other = await createTaleusNode()
    const a = pair.a.peerId.toString()
    const otherAddr = other.getMultiaddrs()[0]!.toString().split('/p2p/')[0]!
    const addrs = [
      `/ip4/127.0.0.1/tcp/${await deadPort()}/p2p/${a}`,
      `/ip4/127.0.0.1/tcp/${closerPort}/p2p/${a}`,
      `${otherAddr}/p2p/${a}`
    ]
    try {
      const { error } = await settled(
        pair.managerB.initiateBootstrap(
          { ...pair.link('why-token', 'stock'), responderPeerAddrs: addrs },
          pair.b
        )
      )
      expect(error?.name).toBe('DialFailedError')
      expect(error?.reason).toBe('unreachable')
      expect(error?.message).toContain('nothing is listening there')
      expect(error?.message).toContain('closed the connection while it was being set up')
      expect(error?.message).toContain('another node answers there')
      expect(error?.message).not.toContain('why-token')
      expect((error?.cause as AggregateError).errors).toHaveLength(3)
    } finally {
      closer.close()
      await other.stop()
    }
    await expectIdle(pair)
  })

  it("the caller's signal: an abort is SessionAbortedError with the caller's reason, a timeout TimeoutError, a stop SessionStoppedError", async () => {
    pair = await makePair()
    pair.hooksA.addToken('abort-token', 'stock', {}, 10)
    const entered = gate()
    pair.hooksA.override.validateIdentity = undecided(entered)
    const link = pair.link('abort-token', 'stock')
    const cancel = new AbortController()
    const cancelled = settled(pair.managerB.initiateBootstrap(link, pair.b, { signal: cancel.signal }))
    await entered.promise
    const why = new Error('the customer pressed cancel')
    cancel.abort(why)
    const { error } = await cancelled
    expect(error?.name).toBe('SessionAbortedError')
    expect(error?.cause).toBe(why)
    // aborted before it starts: the same, with the signal's own reason
    const before = new AbortController()
    before.abort()
    const early = await settled(pair.managerB.initiateBootstrap(link, pair.b, { signal: before.signal }))
    expect(early.error?.name).toBe('SessionAbortedError')
    expect((early.error?.cause as Error).name).toBe('AbortError')
    const timedOut = await settled(
      pair.managerB.initiateBootstrap(link, pair.b, { signal: AbortSignal.timeout(300) })
    )
    expect(timedOut.error?.name).toBe('TimeoutError')
    const stopping = settled(pair.managerB.initiateBootstrap(link, pair.b))
    await new Promise((resolve) => setTimeout(resolve, 100))
    await pair.managerB.stop()
    expect((await stopping).error?.name).toBe('SessionStoppedError')
    await expectIdle(pair)
  })

  it('an approval nobody decides (a hook waiting on its signal): B is told timeout, A ends failed, the hook is released', async () => {
    pair = await makePair({ stepTimeoutMs: 400 }, { stepTimeoutMs: 400 })
    pair.hooksA.addToken('wait-token', 'stock', { approvalTimeoutMs: 600 }, 1)
    let released: unknown
    pair.hooksA.override.validateIdentity = (_b: unknown, _t: unknown, ctx: { signal: AbortSignal }) =>
      new Promise((_resolve, reject) =>
        ctx.signal.addEventListener('abort', () => {
          released = ctx.signal.reason
          reject(ctx.signal.reason)
        })
      )
    const endA = nextTerminal(pair.managerA)
    const { error } = await settled(
      pair.managerB.initiateBootstrap(pair.link('wait-token', 'stock', { approvalTimeoutMs: 600 }), pair.b)
    )
    expect(error?.name).toBe('RejectedError')
    expect(error?.reason).toBe('timeout')
    expect(await endA).toMatchObject({ state: 'L_FAILED', reason: 'timeout' })
    expect((released as Error).name).toBe('RejectedError')
    await expectIdle(pair)
  })

  it('a token whose expiryUtc has passed is refused token-expired, whatever the hook says; a malformed one is garbage', async () => {
    pair = await makePair()
    pair.hooksA.addToken('old-token', 'stock', { expiryUtc: new Date(Date.now() - 1000).toISOString() })
    pair.hooksA.addToken('odd-token', 'stock', { expiryUtc: 'next tuesday' })
    pair.hooksA.addToken('new-token', 'stock', { expiryUtc: new Date(Date.now() + 60_000).toISOString() })
    const old = await settled(pair.managerB.initiateBootstrap(pair.link('old-token', 'stock'), pair.b))
    expect(old.error).toMatchObject({ name: 'RejectedError', reason: 'token-expired' })
    const odd = await settled(pair.managerB.initiateBootstrap(pair.link('odd-token', 'stock'), pair.b))
    expect(odd.error).toMatchObject({ name: 'RejectedError', reason: 'internal-error' })
    const ok = await pair.managerB.initiateBootstrap(pair.link('new-token', 'stock'), pair.b)
    expect(ok.role).toBe('stock')
    await expectIdle(pair)
  })

  it('a public token past its bound of confirmed tallies answers busy (a flood of tallies is bounded)', async () => {
    pair = await makePair({ abuseLimits: { confirmedPerToken: { burst: 3, perSecond: 0 } } })
    pair.hooksA.addToken('qr-token', 'stock')
    for (let i = 0; i < 3; i++) await pair.managerB.initiateBootstrap(pair.link('qr-token', 'stock'), pair.b)
    const { error } = await settled(pair.managerB.initiateBootstrap(pair.link('qr-token', 'stock'), pair.b))
    expect(error).toMatchObject({ name: 'RejectedError', reason: 'busy' })
    expect(pair.managerA.getRefusalCounts()['token-confirmed']).toBe(1)
    await expectIdle(pair)
  })

  it('listener stopping mid-flow: A ends failed, B is told busy, nothing hangs', async () => {
    pair = await makePair()
    pair.hooksA.addToken('stop-token', 'stock', {}, 1)
    const entered = gate()
    pair.hooksA.override.validateIdentity = undecided(entered)
    const endA = nextTerminal(pair.managerA)
    const dial = settled(pair.managerB.initiateBootstrap(pair.link('stop-token', 'stock'), pair.b))
    await entered.promise
    await pair.managerA.stop()
    const a = await endA
    expect(a.state).toBe('L_FAILED')
    // A had not answered: B is told busy (it may come back), not left with a reset
    const { error } = await dial
    expect(error).toMatchObject({ name: 'RejectedError', reason: 'busy' })
    await expectIdle(pair)
  })

  it('dialer vanishing mid-flow: A ends failed and gives the token use back', async () => {
    pair = await makePair()
    pair.hooksA.addToken('vanish-token', 'stock', {}, 1)
    const hold = gate()
    const entered = gate()
    pair.hooksA.override.provisionDatabase = async (
      role: 'stock',
      i: string,
      r: string,
      ctx: { sessionId: string }
    ) => {
      entered.open()
      await hold.promise
      return {
        tally: {
          tallyId: `t-${ctx.sessionId}`,
          createdBy: role,
          initiatorPeerId: i,
          respondentPeerId: r,
          createdAt: 'now'
        },
        dbConnectionInfo: { nodes: [], credentials: 'c' }
      } satisfies ProvisionResult
    }
    const endA = nextTerminal(pair.managerA)
    const dial = settled(pair.managerB.initiateBootstrap(pair.link('vanish-token', 'stock'), pair.b))
    await entered.promise
    await pair.b.stop()
    hold.open()
    const a = await endA
    expect(['L_FAILED', 'L_TIMEOUT']).toContain(a.state)
    expect(pair.hooksA.tokens.get('vanish-token')?.uses).toBe(1)
    expect((await dial).error).toBeInstanceOf(BootstrapError)
    await expectIdle(pair)
  })

  it.each([
    ['bad JSON', bytes('{"type":')],
    ['not an object', bytes('[1,2]')],
    ['unknown type', bytes({ type: 'Hello' })],
    ['wrong message for the state', bytes({ type: 'Ack', ok: true })],
    ['missing fields', bytes({ type: 'InboundContact', token: 'x' })],
    [
      'wrong types',
      bytes({ type: 'InboundContact', token: 1, partyId: 'p', identityBundle: {}, cadrePeerAddrs: [] })
    ],
    [
      'unknown key',
      bytes({
        type: 'InboundContact',
        token: 'x',
        partyId: 'p',
        identityBundle: {},
        cadrePeerAddrs: [],
        extra: 1
      })
    ],
    [
      '__proto__ key',
      bytes(
        '{"type":"InboundContact","token":"x","partyId":"p","identityBundle":{"__proto__":{"a":"b"}},"cadrePeerAddrs":[]}'
      )
    ],
    ['oversize frame', new Uint8Array(MAX_FRAME_BYTES + 1).fill(0x20)]
  ])('malformed frame (%s) → bad-message', async (_name, body) => {
    pair = await makePair()
    const endA = nextTerminal(pair.managerA)
    const { replies } = await rawExchange(pair.b, pair.a, [body])
    expect(replies).toEqual([{ type: 'ProvisioningResult', approved: false, reason: 'bad-message' }])
    const a = await endA
    expect(a.state).toBe('L_FAILED')
    expect(a.reason).toBe('bad-message')
    expect(pair.hooksA.calls).toEqual([])
    expect(new BadMessageError().reason).toBe('bad-message')
    await expectIdle(pair)
  })
})
