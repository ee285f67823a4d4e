import { afterEach, describe, expect, it } from 'vitest'
import { SessionManager } from '../../main/bootstrap/index.ts'
import { createTaleusNode } from '../../main/node/index.ts'
import { MemoryHooks, makePair, whenIdle } from './protocol-helpers.ts'
import type { Pair } from './protocol-helpers.ts'
import type { Libp2p } from '@libp2p/interface'

describe('concurrent bootstraps on one listener', () => {
  let pair: Pair | undefined
  const extra: Libp2p[] = []
  afterEach(async () => {
    await pair?.close()
    pair = undefined
    await Promise.all(extra.splice(0).map((n) => n.stop()))
  })

  it('50 concurrent sessions on one connection, one multi-use token: 50 unique confirmed tallies', async () => {
    pair = await makePair(
      { stepTimeoutMs: 20_000, sessionTimeoutMs: 60_000 },
      { stepTimeoutMs: 20_000, sessionTimeoutMs: 60_000 }
    )
    pair.hooksA.addToken('multi-token', 'stock')
    const link = pair.link('multi-token', 'stock')
    const results = await Promise.all(
      Array.from({ length: 50 }, () => pair!.managerB.initiateBootstrap(link, pair!.b))
    )
    const ids = new Set(results.map((r) => r.tally.tallyId))
    expect(ids.size).toBe(50)
    expect([...pair.hooksA.tallies.values()].every((t) => t.status === 'confirmed')).toBe(true)
    expect(pair.hooksA.tallies.size).toBe(50)
    await whenIdle(pair.managerA)
    expect(pair.managerA.getActiveListenerCount()).toBe(0)
    expect(pair.managerB.getActiveDialerCount()).toBe(0)
  })

  it('10 distinct customer nodes at once, 3 of them with a bad token: 7 succeed, 3 invalid-token', async () => {
    pair = await makePair({ stepTimeoutMs: 20_000, sessionTimeoutMs: 60_000 })
    pair.hooksA.addToken('shop-token', 'foil')
    const customers = await Promise.all(Array.from({ length: 10 }, () => createTaleusNode()))
    extra.push(...customers)
    const outcomes = await Promise.allSettled(
      customers.map((node, i) => {
        const manager = new SessionManager(new MemoryHooks(`C${i}`), {
          stepTimeoutMs: 20_000,
          sessionTimeoutMs: 60_000
        })
        return manager.initiateBootstrap(pair!.link(i < 3 ? 'wrong-token' : 'shop-token', 'foil'), node)
      })
    )
    const ok = outcomes.filter((o) => o.status === 'fulfilled')
    const bad = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')
    expect(ok).toHaveLength(7)
    expect(bad.map((o) => (o.reason as { reason: string }).reason)).toEqual([
      'invalid-token',
      'invalid-token',
      'invalid-token'
    ])
    expect(pair.hooksA.tallies.size).toBe(7)
    await whenIdle(pair.managerA)
    expect(pair.managerA.getActiveListenerCount()).toBe(0)
  })
})
