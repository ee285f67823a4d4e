/** Live sessions, keyed by sessionId, newest first. */
import type { SessionView } from '../../../../preload/contract.ts'
import { FINISHED_SESSIONS_KEPT } from '../../../../main/views/console-queries.ts'
import { mergeInto } from './keyed.ts'

/** The sessions table's source. */
export class SessionsStore {
  byId = $state.raw(new Map<string, SessionView>())
  /** Newest first. */
  list = $derived(
    [...this.byId.values()].sort((a, b) => b.startedAt - a.startedAt || (a.sessionId < b.sessionId ? -1 : 1))
  )
  active = $derived(this.list.reduce((n, s) => (s.done ? n : n + 1), 0))

  constructor(
    /** Finished rows kept, as the node keeps them: a console open for weeks does not grow without end. */
    private readonly maxFinished = FINISHED_SESSIONS_KEPT
  ) {}

  /** Applies a batch of views; an older view of a session never replaces a newer one. */
  apply(views: readonly SessionView[]): void {
    if (views.length === 0) return
    const next = mergeInto(
      this.byId,
      views,
      (s) => s.sessionId,
      (a, b) => a.updatedAt >= b.updatedAt
    )
    let finished = 0
    for (const s of next.values()) if (s.done) finished++
    if (finished > this.maxFinished) {
      // the map holds rows in the order they arrived, oldest first; a tenth goes at once, so pruning is rare
      const target = Math.floor(this.maxFinished * 0.9)
      for (const [id, s] of next) {
        if (finished <= target) break
        if (s.done) {
          next.delete(id)
          finished--
        }
      }
    }
    this.byId = next
  }
}
