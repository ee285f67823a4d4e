/**
 * Slowloris: 1000 bootstrap streams that open and never send a byte (4 attacker peers × 250), while 50
 * real customers bootstrap. At least 95 % of the customers succeed, and once the idle streams passed
 * their step timeout A runs no session and its heap (after a real GC) is back near its baseline.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p, Stream } from '@libp2p/interface'
import { afterAll, describe, expect, it } from 'vitest'
import { PROTOCOL_ID, SessionManager } from '../../main/bootstrap/index.ts'
import { MemoryHooks } from '../integration/protocol-helpers.ts'
import { dialerNodes, gc, startStoreListener } from './helpers.ts'
import type { StoreListener } from './helpers.ts'

const ATTACKERS = 4
const IDLE_PER_ATTACKER = 250
const CUSTOMERS = 50
const MiB = 1024 * 1024

describe('slowloris', () => {
  let A: StoreListener | undefined
  const nodes: Libp2p[] = []
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    await A?.close()
  })

  it('1000 idle streams do not lock out 50 real customers, and memory returns to its baseline', async () => {
    const collect = gc()
    A = await startStoreListener({ stepTimeoutMs: 3000, sessionTimeoutMs: 20_000 })
    const { token } = await A.store.createToken({ role: 'stock', uses: 'unlimited' })
    const attackers = await dialerNodes(ATTACKERS)
    const customers = await dialerNodes(CUSTOMERS)
    nodes.push(...attackers, ...customers)
    const addr = multiaddr(A.addr())
    // connections up before the baseline, so it counts what the attack adds, not the peers themselves
    await Promise.all([...attackers, ...customers].map((n) => n.dial(addr)))
    collect()
    const baseline = process.memoryUsage()

    const t0 = Date.now()
    const idle: Array<Promise<Stream>> = []
    for (const attacker of attackers) {
      for (let i = 0; i < IDLE_PER_ATTACKER; i++) {
        idle.push(attacker.dialProtocol(addr, PROTOCOL_ID, { maxOutboundStreams: 4096 }))
      }
    }
    const link = { token, role: 'stock' as const, responderPeerAddrs: [A.addr()] }
    const outcomes = await Promise.allSettled(
      customers.map((node, i) =>
        new SessionManager(new MemoryHooks(`C${i}`), {
          stepTimeoutMs: 15_000,
          sessionTimeoutMs: 30_000
        }).initiateBootstrap(link, node)
      )
    )
    const tCustomers = Date.now() - t0
    const opened = await Promise.allSettled(idle)
    const streams = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))
    const tOpened = Date.now() - t0
    await A.idle()
    console.info(
      `slowloris timings: customers ${tCustomers} ms, idle streams opened ${tOpened} ms, A idle ${Date.now() - t0} ms`
    )
    // A gave up on every idle stream by itself (a reset), without waiting for the attacker
    const resets = streams.filter(
      (s) => s.status === 'reset' || s.status === 'aborted' || s.readStatus !== 'readable'
    ).length
    for (const s of streams) s.abort(new Error('attack over'))

    const ok = outcomes.filter((o) => o.status === 'fulfilled').length
    const failures = outcomes.flatMap((o) =>
      o.status === 'rejected'
        ? [
            `${(o.reason as Error).name}:${(o.reason as { reason?: string }).reason}:${String((o.reason as Error).cause)}`
          ]
        : []
    )
    expect(ok, `failures: ${failures.join(',')}`).toBeGreaterThanOrEqual(Math.ceil(CUSTOMERS * 0.95))
    expect(A.manager.getActiveListenerCount()).toBe(0)
    expect(A.store.listTallies().filter((t) => t.status === 'confirmed')).toHaveLength(ok)

    collect()
    const after = process.memoryUsage()
    const heapGrowth = (after.heapUsed - baseline.heapUsed) / MiB
    const rssGrowth = (after.rss - baseline.rss) / MiB
    console.info(
      `slowloris: ${streams.length} idle streams opened (${opened.length - streams.length} refused), ${resets} reset by A; ` +
        `${ok}/${CUSTOMERS} customers succeeded; heap ${(baseline.heapUsed / MiB).toFixed(1)} → ${(after.heapUsed / MiB).toFixed(1)} MiB ` +
        `(+${heapGrowth.toFixed(1)}), rss +${rssGrowth.toFixed(1)} MiB`
    )
    expect(streams.length + (opened.length - streams.length)).toBe(ATTACKERS * IDLE_PER_ATTACKER)
    // near the baseline: the attack left less than 16 MiB of live heap behind (audit ring, session rows)
    expect(heapGrowth).toBeLessThan(16)
  })
})
