/** Live sessions, keyed by sessionId, newest first. */
import type { SessionView } from '../../../../preload/contract.ts'
import { mergeInto } from './keyed.ts'

/** The sessions table's source. */
export class SessionsStore {
  byId = $state.raw(new Map<string, SessionView>())
  /** Newest first. */
  list = $derived(
    [...this.byId.values()].sort((a, b) => b.startedAt - a.startedAt || (a.sessionId < b.sessionId ? -1 : 1))
  )
  active = $derived(this.list.reduce((n, s) => (s.done ? n : n + 1), 0))

  /** Applies a batch of views; an older view of a session never replaces a newer one. */
  apply(views: readonly SessionView[]): void {
    if (views.length === 0) return
    this.byId = mergeInto(
      this.byId,
      views,
      (s) => s.sessionId,
      (a, b) => a.updatedAt >= b.updatedAt
    )
  }
}
