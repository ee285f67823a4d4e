/** Sessions waiting for an operator's identity decision. */
import type { ApprovalView } from '../../../../preload/contract.ts'

/** The approvals screen's and the nav badge's source. */
export class ApprovalsStore {
  byId = $state.raw(new Map<string, ApprovalView>())
  /** Soonest deadline first. */
  list = $derived([...this.byId.values()].sort((a, b) => a.deadline - b.deadline))
  count = $derived(this.byId.size)
  #resolved = new Set<string>()

  /** Replaces everything with a snapshot (events already resolved stay resolved). */
  load(views: readonly ApprovalView[]): void {
    this.byId = new Map(views.filter((a) => !this.#resolved.has(a.sessionId)).map((a) => [a.sessionId, a]))
  }

  /** Adds waiting sessions and removes resolved ones, in one update. */
  apply(added: readonly ApprovalView[], resolved: readonly string[]): void {
    if (added.length === 0 && resolved.length === 0) return
    const next = new Map(this.byId)
    for (const a of added) next.set(a.sessionId, a)
    for (const id of resolved) {
      next.delete(id)
      this.#resolved.add(id)
    }
    this.byId = next
  }
}
