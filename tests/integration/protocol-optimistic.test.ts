/**
 * B proposes the newest bootstrap version with its contact in the same message (optimistic selection,
 * main/node/optimistic-select.ts), over real libp2p nodes: A answers a contact on an open connection in
 * one socket write, and an older A (without 1.3.0) still bootstraps, in full negotiation on a new stream,
 * whether B's libp2p selects optimistically (a Taleus node) or not (stock libp2p).
 */
import type { Libp2p } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { PROTOCOL_ID, PROTOCOL_ID_V1_2, RejectedError } from '../../main/bootstrap/index.ts'
import type { HookContext } from '../../main/bootstrap/index.ts'
import { socketWrites, stockNode } from '../helpers/wire-nodes.ts'
import { makePair, nextTerminal } from './protocol-helpers.ts'
import type { Pair } from './protocol-helpers.ts'

describe('optimistic selection of the bootstrap protocol', () => {
  let pair: Pair | undefined
  const extra: Libp2p[] = []
  afterEach(async () => {
    await pair?.close()
    pair = undefined
    await Promise.allSettled(extra.splice(0).map((n) => n.stop()))
  })

  /** The protocol of each contact A's validateToken saw. */
  function protocolsSeen(p: Pair): string[] {
    const seen: string[] = []
    p.hooksA.override.validateToken = async (token: string, ctx: HookContext) => {
      seen.push(ctx.protocol ?? '')
      const entry = p.hooksA.tokens.get(token)
      if (entry == null) throw new RejectedError('invalid-token')
      return entry.info
    }
    return seen
  }

  it('a refused contact on an open connection: B sends it with the proposal, A answers in one write', async () => {
    pair = await makePair()
    const seen = protocolsSeen(pair)
    const refusedOnce = async (): Promise<void> => {
      const err = await pair!.managerB
        .initiateBootstrap(pair!.link('no-such-token', 'stock'), pair!.b)
        .catch((e: unknown) => e)
      expect((err as { reason?: string }).reason).toBe('invalid-token')
    }
    // the connection first, so the count is of one contact alone
    await refusedOnce()
    await new Promise((resolve) => setTimeout(resolve, 100))
    const writes = await socketWrites(pair.a, refusedOnce, 100)
    // B: proposal and contact together, then its FIN; A: echo, refusal and FIN together
    // (a full negotiation is B 3 and A 2: tests/unit/optimistic-select.test.ts)
    expect(writes).toEqual({ listener: 1, dialer: 2 })
    expect(seen).toEqual([PROTOCOL_ID, PROTOCOL_ID])
  })

  it('on a fresh connection B negotiates in full: the proposal, then (after the echo) the contact', async () => {
    pair = await makePair()
    const seen = protocolsSeen(pair)
    const writes = await socketWrites(
      pair.a,
      async () => {
        const err = await pair!.managerB
          .initiateBootstrap(pair!.link('no-such-token', 'stock'), pair!.b)
          .catch((e: unknown) => e)
        expect((err as { reason?: string }).reason).toBe('invalid-token')
        await pair!.b.hangUp(pair!.a.peerId)
      },
      100
    )
    // a whole connection: its handshake and muxer, then one message more each way than on an open one
    const open = await socketWrites(
      pair.a,
      async () => {
        await pair!.b.dial(pair!.a.getMultiaddrs()[0]!)
        await pair!.b.hangUp(pair!.a.peerId)
      },
      100
    )
    expect(writes.listener - open.listener).toBe(2)
    expect(seen).toEqual([PROTOCOL_ID])
  })

  it('an A without 1.3.0, on an open connection: a Taleus B falls back to the whole list and bootstraps on 1.2.0', async () => {
    pair = await makePair()
    const seen = protocolsSeen(pair)
    await pair.a.unhandle(PROTOCOL_ID)
    pair.hooksA.addToken('older-a', 'stock')
    // an open connection, so B proposes 1.3.0 with its contact and meets A's `na`
    await pair.b.dial(pair.a.getMultiaddrs()[0]!)
    const doneA = nextTerminal(pair.managerA)
    const result = await pair.managerB.initiateBootstrap(pair.link('older-a', 'stock'), pair.b)
    expect((await doneA).state).toBe('L_DONE')
    expect(pair.hooksB.tallies.get(result.tally.tallyId)?.status).toBe('confirmed')
    expect(seen).toEqual([PROTOCOL_ID_V1_2])
  })

  it('an A without 1.3.0 and a B on stock libp2p (it negotiates 1.3.0 in full): the same fallback', async () => {
    pair = await makePair()
    const seen = protocolsSeen(pair)
    await pair.a.unhandle(PROTOCOL_ID)
    pair.hooksA.addToken('stock-b', 'stock')
    const stockB = await stockNode()
    extra.push(stockB)
    await stockB.dial(pair.a.getMultiaddrs()[0]!)
    const doneA = nextTerminal(pair.managerA)
    const result = await pair.managerB.initiateBootstrap(pair.link('stock-b', 'stock'), stockB)
    expect((await doneA).state).toBe('L_DONE')
    expect(result.remotePeerId).toBe(pair.a.peerId.toString())
    expect(seen).toEqual([PROTOCOL_ID_V1_2])
  })
})
