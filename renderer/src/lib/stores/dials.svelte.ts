/** Outcomes of dials started from this console. */
import type { DialOutcome } from '../../../../preload/contract.ts'

/** Dial results by sessionId. */
export class DialsStore {
  outcomes = $state.raw(new Map<string, DialOutcome>())

  /** Records outcomes. */
  apply(outcomes: readonly DialOutcome[]): void {
    if (outcomes.length === 0) return
    const next = new Map(this.outcomes)
    for (const o of outcomes) next.set(o.sessionId, o)
    this.outcomes = next
  }
}
