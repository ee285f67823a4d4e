/** The live table of sessions, fed by SessionEvents; finished rows are kept up to a cap. */
import type { SessionEvent, SessionView } from '../views/console-views.ts'
import { FINISHED_SESSIONS_KEPT } from '../views/console-queries.ts'

const TERMINAL_STATES = new Set(['L_DONE', 'L_FAILED', 'L_TIMEOUT', 'D_DONE', 'D_FAILED', 'D_TIMEOUT'])

/** True for a state a session never leaves. */
export function isTerminalState(state: string): boolean {
  return TERMINAL_STATES.has(state)
}

/** Rows by session id, oldest first. */
export class SessionTable {
  private readonly rows = new Map<string, SessionView>()
  private finished = 0

  constructor(
    /** Finished rows kept; the oldest go first. */
    private readonly maxFinished = FINISHED_SESSIONS_KEPT,
    private readonly labelOf: (tokenId: string) => string | undefined = () => undefined
  ) {}

  /** Apply one transition and return the updated row. */
  apply(event: SessionEvent, node?: string): SessionView {
    const previous = this.rows.get(event.sessionId)
    const done = isTerminalState(event.state)
    const tokenId = event.tokenId ?? previous?.tokenId
    const row: SessionView = {
      sessionId: event.sessionId,
      direction: event.direction,
      state: event.state,
      done,
      startedAt: previous?.startedAt ?? event.at,
      updatedAt: event.at,
      peerId: event.peerId || previous?.peerId || ''
    }
    // optional fields only when set: a `delete` afterwards would turn every row into a slow dictionary
    // object (four or more rows per customer, each serialised for the console)
    const role = event.role ?? previous?.role
    if (role !== undefined) row.role = role
    if (tokenId !== undefined) row.tokenId = tokenId
    const tokenLabel = previous?.tokenLabel ?? (tokenId === undefined ? undefined : this.labelOf(tokenId))
    if (tokenLabel !== undefined) row.tokenLabel = tokenLabel
    const tallyId = event.tallyId ?? previous?.tallyId
    if (tallyId !== undefined) row.tallyId = tallyId
    const reason = event.reason ?? previous?.reason
    if (reason !== undefined) row.reason = reason
    const servedBy = node ?? previous?.node
    if (servedBy !== undefined) row.node = servedBy
    if (event.peerLeft === true) row.peerLeft = true
    if (done && previous?.done !== true) this.finished++
    this.rows.set(event.sessionId, row)
    if (this.finished > this.maxFinished) this.prune()
    return row
  }

  /** Mark every unfinished row as ended (restored history: its process is gone). */
  endUnfinished(): void {
    for (const [id, row] of this.rows) {
      if (row.done) continue
      this.rows.set(id, { ...row, done: true })
      this.finished++
    }
    if (this.finished > this.maxFinished) this.prune()
  }

  get(sessionId: string): SessionView | undefined {
    return this.rows.get(sessionId)
  }

  /** Every row, oldest first. */
  list(): SessionView[] {
    return [...this.rows.values()]
  }

  get size(): number {
    return this.rows.size
  }

  private prune(): void {
    // Drop a tenth at once so pruning is rare, not one scan per event.
    const target = Math.floor(this.maxFinished * 0.9)
    for (const [id, row] of this.rows) {
      if (this.finished <= target) break
      if (row.done) {
        this.rows.delete(id)
        this.finished--
      }
    }
  }
}
