/** Customers' names by session: what the identity bundles said, from approvals and tallies. */
import type { ApprovalView, TallyView } from '../../../../preload/contract.ts'
import { nameOf } from '../names.ts'

/** Names by sessionId (only sessions whose customer gave a name or an email). */
export class NamesStore {
  bySession = $state.raw(new Map<string, string>())

  /** Learns names from waiting approvals and from tallies. */
  apply(approvals: readonly ApprovalView[], tallies: readonly TallyView[]): void {
    const found: [string, string][] = []
    for (const a of approvals) {
      const name = nameOf(a.bundle)
      if (name != null) found.push([a.sessionId, name])
    }
    for (const t of tallies) {
      const name = t.counterpartyName ?? nameOf(t.counterpartyIdentity)
      if (name != null && t.sessionId !== '') found.push([t.sessionId, name])
    }
    if (found.every(([id, name]) => this.bySession.get(id) === name)) return
    const next = new Map(this.bySession)
    for (const [id, name] of found) next.set(id, name)
    this.bySession = next
  }

  /** The name of a session's customer, if known. */
  get(sessionId: string | undefined): string | undefined {
    return sessionId == null ? undefined : this.bySession.get(sessionId)
  }
}
