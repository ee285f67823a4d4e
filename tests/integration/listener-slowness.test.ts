/**
 * Whose doing a customer's giving up is, for the token's abandoned-attempt bucket (issue K: a rush that
 * outruns A must not lock its public QR): a customer that leaves while A takes over half a step of its
 * own to answer is not charged; one that leaves while A answers in time is. Real nodes on 127.0.0.1; A's
 * slowness is its provisioning hook holding the answer, as A's backlog does in a rush.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { SessionManager } from '../../main/bootstrap/index.ts'
import type { BootstrapError, ProvisionResult } from '../../main/bootstrap/index.ts'
import { MemoryHooks, makePair, whenIdle } from './protocol-helpers.ts'
import type { Pair } from './protocol-helpers.ts'

/** A's step: half of it is where A's own time stops being the customer's fault. */
const A_STEP_MS = 4000
/** A patient customer waits this long for A's answer (over half of A's step), then leaves. */
const PATIENT_MS = 3000
/** An impatient one leaves after this (well under half of A's step). */
const IMPATIENT_MS = 400
/** Abandoned attempts the token tolerates (never refilled in the test). */
const BURST = 2

/** A provisioning hook that answers after `ms`, as the default MemoryHooks one would. */
function provisionAfter(ms: number) {
  return async (
    role: string,
    initiatorPeerId: string,
    respondentPeerId: string,
    _sessionId: string,
    ctx: { sessionId: string }
  ): Promise<ProvisionResult> => {
    await new Promise((resolve) => setTimeout(resolve, ms))
    return {
      tally: {
        tallyId: `tally-${ctx.sessionId}`,
        createdBy: role as 'stock',
        initiatorPeerId,
        respondentPeerId,
        createdAt: new Date().toISOString()
      },
      dbConnectionInfo: { nodes: ['/ip4/127.0.0.1/tcp/1'], credentials: 'cred-A' }
    }
  }
}

/** `n` customers at once that wait `waitMs` for A's answer; resolves once A has ended them all. */
async function customers(pair: Pair, n: number, waitMs: number): Promise<string[]> {
  const manager = new SessionManager(new MemoryHooks('B'), { stepTimeoutMs: waitMs })
  const reasons = await Promise.all(
    Array.from({ length: n }, () =>
      manager.initiateBootstrap(pair.link('qr-token', 'stock'), pair.b).then(
        () => 'served',
        (err: BootstrapError) => err.reason
      )
    )
  )
  await manager.stop()
  await whenIdle(pair.managerA)
  return reasons
}

describe('a customer giving up on a slow A', () => {
  let pair: Pair | undefined
  afterEach(async () => {
    await pair?.close()
    pair = undefined
  })

  async function setup(): Promise<Pair> {
    pair = await makePair({
      stepTimeoutMs: A_STEP_MS,
      sessionTimeoutMs: 30_000,
      abuseLimits: {
        abandonedPerToken: { burst: BURST, perSecond: 0 },
        abandonedPerPeer: { burst: 100, perSecond: 0 }
      }
    })
    pair.hooksA.addToken('qr-token', 'stock')
    return pair
  }

  /** One more customer, with A answering at once. */
  async function nextCustomer(p: Pair): Promise<string> {
    delete p.hooksA.override.provisionDatabase
    const [reason] = await customers(p, 1, A_STEP_MS)
    return reason!
  }

  it('A over half a step late: patient customers who left are not charged to the token', async () => {
    const p = await setup()
    p.hooksA.override.provisionDatabase = provisionAfter(PATIENT_MS + 1000)
    expect(await customers(p, BURST + 1, PATIENT_MS)).toEqual(Array(BURST + 1).fill('timeout'))
    expect(await nextCustomer(p)).toBe('served')
    expect(p.managerA.getRefusalCounts()['token-abandoned']).toBe(0)
  })

  it('customers who leave before A had half a step are charged; past the burst the token answers busy', async () => {
    const p = await setup()
    p.hooksA.override.provisionDatabase = provisionAfter(IMPATIENT_MS + 1000)
    expect(await customers(p, BURST, IMPATIENT_MS)).toEqual(Array(BURST).fill('timeout'))
    expect(await nextCustomer(p)).toBe('busy')
    expect(p.managerA.getRefusalCounts()['token-abandoned']).toBe(1)
  })
})
