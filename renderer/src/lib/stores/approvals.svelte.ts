/** Sessions waiting for an operator's identity decision, and the ones that timed out unseen. */
import type { ApprovalEnd, ApprovalView } from '../../../../preload/contract.ts'

/** An approval nobody decided in time: kept as a notice until the operator dismisses it. */
export interface TimedOutApproval {
  approval: ApprovalView
  at: number
}

/** A resolved approval as the event stream reports it. */
export interface Resolved {
  sessionId: string
  decision: ApprovalEnd
}

/** The approvals screen's and the nav badge's source. */
export class ApprovalsStore {
  byId = $state.raw(new Map<string, ApprovalView>())
  /** Soonest deadline first. */
  list = $derived([...this.byId.values()].sort((a, b) => a.deadline - b.deadline))
  count = $derived(this.byId.size)
  /** Newest first. */
  timedOut = $state.raw<TimedOutApproval[]>([])
  #resolved = new Set<string>()

  /** Replaces everything with a snapshot (events already resolved stay resolved). */
  load(views: readonly ApprovalView[]): void {
    this.byId = new Map(views.filter((a) => !this.#resolved.has(a.sessionId)).map((a) => [a.sessionId, a]))
  }

  /** Adds waiting sessions and removes resolved ones, in one update. */
  apply(added: readonly ApprovalView[], resolved: readonly (Resolved | string)[]): void {
    if (added.length === 0 && resolved.length === 0) return
    const next = new Map(this.byId)
    for (const a of added) if (!this.#resolved.has(a.sessionId)) next.set(a.sessionId, a)
    const expired: TimedOutApproval[] = []
    for (const r of resolved) {
      const { sessionId, decision } = typeof r === 'string' ? { sessionId: r, decision: undefined } : r
      const waiting = next.get(sessionId)
      if (decision === 'timeout' && waiting != null) expired.push({ approval: waiting, at: Date.now() })
      next.delete(sessionId)
      this.#resolved.add(sessionId)
    }
    this.byId = next
    if (expired.length > 0) this.timedOut = [...expired.reverse(), ...this.timedOut].slice(0, 50)
  }

  /** Forgets a timed-out notice. */
  dismiss(sessionId: string): void {
    this.timedOut = this.timedOut.filter((t) => t.approval.sessionId !== sessionId)
  }
}
