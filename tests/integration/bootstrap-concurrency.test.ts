/**
 * Concurrent customers against one merchant with the real store: separate customer nodes (each with
 * its own store) on one multi-use token, mixed valid and invalid contacts, and the single-use race.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { World, expectIdle, finished, outcome, tallyOnDisk, type Party } from '../helpers/bootstrap-world.ts'

describe('concurrent bootstraps with the real store', () => {
  const world = new World()
  afterEach(async () => world.close())

  it.each([3, 50])(
    '%i customers on one multi-use token at once: each a unique confirmed tally',
    async (n) => {
      const a = await world.listener({ config: { stepTimeoutMs: 10_000, sessionTimeoutMs: 30_000 } })
      const customers = await world.dialers(n, {
        config: { stepTimeoutMs: 10_000, sessionTimeoutMs: 30_000 }
      })
      const { view, link } = await a.createToken({ role: 'stock', uses: 'unlimited', label: 'rush' })

      const results = await Promise.all(customers.map(async (c) => c.manager.initiateBootstrap(link, c.node)))
      const ids = results.map((r) => r.tally.tallyId)
      expect(new Set(ids).size).toBe(n)
      results.forEach((r, i) => {
        expect(r.tally.initiatorPeerId).toBe(customers[i]!.peerId)
        expect(customers[i]!.store.getTally(r.tally.tallyId)?.status).toBe('confirmed')
      })

      const ends = await finished(a, n)
      expect(ends.every((e) => e.state === 'L_DONE')).toBe(true)
      const onA = a.store.listTallies()
      expect(onA).toHaveLength(n)
      expect(new Set(onA.map((t) => t.tallyId))).toEqual(new Set(ids))
      expect(onA.every((t) => t.status === 'confirmed' && t.tokenId === view.tokenId)).toBe(true)
      expect(new Set(onA.map((t) => t.counterpartyPeerId)).size).toBe(n)
      for (const id of ids.slice(0, 3)) expect((await tallyOnDisk(a.dir, id))?.status).toBe('confirmed')
      expect(a.store.getToken(view.tokenId)?.used).toBe(n)
      await expectIdle([a.manager, ...customers.map((c) => c.manager)])
    }
  )

  it('3 valid + 1 invalid in parallel: 3 tallies, 1 invalid-token, nothing left behind', async () => {
    const a = await world.listener()
    const customers = await world.dialers(4)
    const { view, link } = await a.createToken({ role: 'foil', uses: 3 })
    const links = [link, link, link, { ...link, token: 'forged-token-text' }]

    const results = await Promise.all(
      customers.map(async (c, i) => outcome(c.manager.initiateBootstrap(links[i]!, c.node)))
    )
    expect(results.slice(0, 3).every((r) => r.value?.role === 'foil')).toBe(true)
    expect(results[3]!.error).toMatchObject({ name: 'RejectedError', reason: 'invalid-token' })
    expect(customers[3]!.store.listTallies()).toEqual([])

    const ends = await finished(a, 4)
    expect(ends.map((e) => e.state).sort()).toEqual(['L_DONE', 'L_DONE', 'L_DONE', 'L_FAILED'])
    expect(ends.find((e) => e.state === 'L_FAILED')?.reason).toBe('invalid-token')
    expect(a.store.listTallies().map((t) => t.status)).toEqual(['confirmed', 'confirmed', 'confirmed'])
    expect(a.store.getToken(view.tokenId)).toMatchObject({ used: 3, status: 'used-up' })
    await expectIdle([a.manager, ...customers.map((c) => c.manager)])
  })

  it('single-use race: 100 contacts at once, exactly 1 winner, 99 token-used, exactly one tally', async () => {
    const config = { stepTimeoutMs: 15_000, sessionTimeoutMs: 45_000 }
    const a = await world.listener({ config })
    // 100 contacts from 25 customer nodes (4 each): every contact is its own session and stream
    const customers = await world.dialers(25, { config })
    const { view, link } = await a.createToken({ role: 'stock', uses: 1 })

    const attempts: Array<Promise<{ value?: unknown; error?: Error & { reason?: string } }>> = []
    const byAttempt: Party[] = []
    for (let round = 0; round < 4; round++) {
      for (const c of customers) {
        attempts.push(outcome(c.manager.initiateBootstrap(link, c.node)))
        byAttempt.push(c)
      }
    }
    const results = await Promise.all(attempts)
    const winners = results.filter((r) => r.value !== undefined)
    const losers = results.filter((r) => r.error !== undefined)
    expect(winners).toHaveLength(1)
    expect(losers).toHaveLength(99)
    for (const l of losers) expect(l.error).toMatchObject({ name: 'RejectedError', reason: 'token-used' })

    const ends = await finished(a, 100, 30_000)
    expect(ends.filter((e) => e.state === 'L_DONE')).toHaveLength(1)
    expect(ends.filter((e) => e.state === 'L_FAILED' && e.reason === 'token-used')).toHaveLength(99)
    expect(a.store.listTallies()).toHaveLength(1)
    expect(a.store.listTallies()[0]!.status).toBe('confirmed')
    expect(a.store.getToken(view.tokenId)).toMatchObject({ used: 1, status: 'used-up' })
    // exactly one customer recorded a tally, and it is the same one
    const recorded = customers.flatMap((c) => c.store.listTallies())
    expect(recorded.map((t) => t.tallyId)).toEqual([a.store.listTallies()[0]!.tallyId])
    await expectIdle([a.manager, ...customers.map((c) => c.manager)])
  })
})
