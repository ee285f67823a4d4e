/**
 * Races against the real store: 100 dialers on one single-use token (exactly one tally), and two
 * operators deciding the same waiting session at once (exactly one decision applied, and it is the
 * one the session ended with and the audit recorded). Both on lowdb and, when a server is there, on the
 * PostgreSQL store (where the single use is one conditional UPDATE and a decision one conditional UPDATE).
 */
import type { Libp2p } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { SessionManager } from '../../main/bootstrap/index.ts'
import type { BootstrapResult } from '../../main/bootstrap/index.ts'
import { MemoryHooks } from '../integration/protocol-helpers.ts'
import { SecretWatch, dialerNodes, hostileStores, startStoreListener } from './helpers.ts'
import type { StoreListener } from './helpers.ts'

describe.each(hostileStores())('races on $name', (kind) => {
  let A: StoreListener | undefined
  const nodes: Libp2p[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()))
    await A?.close()
    A = undefined
  })

  it('100 dialers on one single-use token: exactly one tally, 99 token-used, one use consumed', async () => {
    A = await startStoreListener({
      kind,
      stepTimeoutMs: 15_000,
      sessionTimeoutMs: 30_000,
      maxConcurrentSessions: 200
    })
    const watch = new SecretWatch()
    const { view, token } = await A.store.createToken({ role: 'stock', uses: 1 })
    watch.secret(token)
    const dialers = await dialerNodes(10)
    nodes.push(...dialers)
    const link = { token, role: 'stock' as const, responderPeerAddrs: [A.addr()] }
    const outcomes = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) =>
        new SessionManager(new MemoryHooks(`B${i}`), {
          stepTimeoutMs: 15_000,
          sessionTimeoutMs: 30_000
        }).initiateBootstrap(link, dialers[i % dialers.length]!)
      )
    )
    await A.idle()
    const won = outcomes.filter((o): o is PromiseFulfilledResult<BootstrapResult> => o.status === 'fulfilled')
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')
    expect(won).toHaveLength(1)
    expect(new Set(lost.map((o) => (o.reason as { reason: string }).reason))).toEqual(new Set(['token-used']))
    for (const o of lost) watch.error('dialer error', o.reason)
    const tallies = A.store.listTallies()
    expect(tallies.map((t) => [t.tallyId, t.status])).toEqual([[won[0]!.value.tally.tallyId, 'confirmed']])
    expect(A.store.getToken(view.tokenId)?.used).toBe(1)
    await A.store.close()
    await watch.store(A)
    expect(watch.leaks()).toEqual([])
  })

  it('two operators approve and reject the same session at once: one decision wins and is recorded', async () => {
    A = await startStoreListener({ kind, stepTimeoutMs: 15_000, sessionTimeoutMs: 30_000 })
    const store = A.store
    const { token } = await store.createToken({ role: 'stock', uses: 'unlimited', approval: 'operator' })
    const [b] = await dialerNodes(1)
    nodes.push(b!)
    const link = { token, role: 'stock' as const, responderPeerAddrs: [A.addr()] }
    const resolved: Array<{ sessionId: string; decision: string }> = []
    store.addEventListener('approval-resolved', (e) => resolved.push(e.detail))
    const ROUNDS = 10
    for (let round = 0; round < ROUNDS; round++) {
      const asked = new Promise<string>((resolve) =>
        store.addEventListener('approval', (e) => resolve(e.detail.sessionId), { once: true })
      )
      const managerB = new SessionManager(new MemoryHooks(`B${round}`), { stepTimeoutMs: 15_000 })
      const dialing = managerB.initiateBootstrap(link, b!).then(
        (r) => ({ ok: true as const, tallyId: r.tally.tallyId }),
        (err: { reason: string }) => ({ ok: false as const, reason: err.reason })
      )
      const sessionId = await asked
      // both operators click in the same tick; alternate who comes first so each decision wins sometimes
      const order = round % 2 === 0 ? (['approve', 'reject'] as const) : (['reject', 'approve'] as const)
      const results = await Promise.all(order.map((d) => store.decide(sessionId, d)))
      const applied = results.filter((r) => r.applied)
      expect(applied).toHaveLength(1)
      const winner = applied[0]!.decision
      const outcome = await dialing
      await A.idle()
      const events = store.listAudit({ sessionId }).reverse()
      const last = events[events.length - 1]!
      if (winner === 'approve') {
        expect(outcome.ok).toBe(true)
        expect(last.state).toBe('L_DONE')
        expect(store.listTallies().find((t) => t.sessionId === sessionId)?.status).toBe('confirmed')
      } else {
        expect(outcome).toEqual({ ok: false, reason: 'identity-rejected' })
        expect(last).toMatchObject({ state: 'L_FAILED', reason: 'identity-rejected' })
        expect(store.listTallies().some((t) => t.sessionId === sessionId)).toBe(false)
      }
      expect(resolved.filter((r) => r.sessionId === sessionId)).toEqual([{ sessionId, decision: winner }])
      // a late third operator changes nothing
      expect((await store.decide(sessionId, winner === 'approve' ? 'reject' : 'approve')).applied).toBe(false)
    }
    expect(new Set(resolved.map((r) => r.decision))).toEqual(new Set(['approve', 'reject']))
    expect(store.listTallies()).toHaveLength(ROUNDS / 2)
  })
})
