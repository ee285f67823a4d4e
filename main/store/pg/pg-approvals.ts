/**
 * Operator approvals shared by the cadre. A waiting session's row lives in `approvals`; whichever node's
 * console decides, one conditional UPDATE (status still `pending`) applies it, so the first of approve,
 * reject and the deadline wins exactly once. NOTIFY then tells the node holding the session, which ends
 * the wait, and every node's console, which drops the row.
 */
import type { Pool } from 'pg'
import type { ApprovalView, Decision, DecisionResult } from '../../views/console-views.ts'
import { endedBy } from '../approval-desk.ts'
import type { ApprovalOutcome } from '../approval-desk.ts'

/** A pending approval as every console lists it: with the node whose session waits. */
export type NodeApproval = ApprovalView & { node: string }

interface Waiter {
  settle(outcome: ApprovalOutcome | Error): void
}

/** What the desk needs from its store. */
export interface PgApprovalsInit {
  pool: Pool
  node: string
  channel: string
  now: () => number
  requested(view: NodeApproval): void
  resolved(sessionId: string, outcome: ApprovalOutcome): void
}

const DECIDE = `
  WITH u AS (
    UPDATE approvals SET status = $2, decided_at = $3, decided_by = $4
    WHERE session_id = $1 AND status = 'pending' RETURNING session_id
  )
  SELECT pg_notify($5, json_build_object('k', 'decided', 'n', $4::text, 'sessionId', $1::text, 'decision', $2::text)::text)
  FROM u`

/** The cadre's pending approvals: a mirror of all of them, and the waits of this node's sessions. */
export class PgApprovals {
  #init: PgApprovalsInit
  #pending = new Map<string, NodeApproval>()
  #waiting = new Map<string, Waiter>()
  #deciding: Promise<unknown> = Promise.resolve()

  constructor(init: PgApprovalsInit) {
    this.#init = init
  }

  /** Wait for the cadre's decision on `view.sessionId` (see ApprovalDesk.wait for the outcomes). */
  async wait(view: ApprovalView, timeoutMs: number, signal: AbortSignal): Promise<ApprovalOutcome> {
    signal.throwIfAborted()
    const { sessionId } = view
    if (this.#waiting.has(sessionId)) throw new Error('this session already waits for a decision')
    const entry: NodeApproval = { ...view, node: this.#init.node }
    let resolve!: (outcome: ApprovalOutcome) => void
    let reject!: (err: Error) => void
    const promise = new Promise<ApprovalOutcome>((res, rej) => {
      resolve = res
      reject = rej
    })
    const timing: { timer?: ReturnType<typeof setTimeout> } = {}
    const onAbort = (): void => {
      void this.#close(sessionId, signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    }
    const waiter: Waiter = {
      settle: (outcome) => {
        if (this.#waiting.get(sessionId) !== waiter) return
        this.#waiting.delete(sessionId)
        clearTimeout(timing.timer)
        signal.removeEventListener('abort', onAbort)
        if (outcome instanceof Error) reject(outcome)
        else resolve(outcome)
      }
    }
    // registered before the row exists, so a decision that beats our own INSERT's return still finds us
    this.#waiting.set(sessionId, waiter)
    try {
      await this.#init.pool.query(
        `WITH i AS (
           INSERT INTO approvals (session_id, node, view, deadline) VALUES ($1, $2, $3, $4)
           ON CONFLICT (session_id) DO NOTHING RETURNING session_id
         ) SELECT pg_notify($5, $6) FROM i`,
        [
          sessionId,
          this.#init.node,
          JSON.stringify(view),
          view.deadline,
          this.#init.channel,
          JSON.stringify({ k: 'approval', n: this.#init.node, view: entry })
        ]
      )
    } catch (err) {
      this.#waiting.delete(sessionId)
      throw err
    }
    this.#add(entry)
    timing.timer = setTimeout(() => void this.#close(sessionId, 'timeout'), timeoutMs)
    signal.addEventListener('abort', onAbort, { once: true })
    if (signal.aborted) onAbort()
    return promise
  }

  /** Apply a decision from this node's console; `applied` is false when it is not (or no longer) pending. */
  async decide(sessionId: string, decision: Decision): Promise<DecisionResult> {
    const { pool, now, node, channel } = this.#init
    // this console's decisions reach the table in the order they were made (across nodes: the table's)
    const turn = this.#deciding.then(async () =>
      pool.query(DECIDE, [sessionId, decision, now(), node, channel])
    )
    this.#deciding = turn.catch(() => undefined)
    const applied = (await turn).rowCount === 1
    if (applied) this.#finish(sessionId, decision)
    return { sessionId, decision, applied }
  }

  /** Pending approvals of the whole cadre (past their deadline: left out, their node settles them). */
  list(): NodeApproval[] {
    return [...this.#pending.values()].map((v) => ({ ...v, bundle: { ...v.bundle } }))
  }

  /** A peer node asked for a decision. */
  noteRequested(view: NodeApproval): void {
    if (this.#pending.has(view.sessionId)) return
    this.#add(view)
  }

  /** A node decided (or timed out) `sessionId`. */
  noteDecided(sessionId: string, outcome: ApprovalOutcome): void {
    this.#finish(sessionId, outcome)
  }

  /** Replace the mirror with the pending rows of the cadre (at start and after a lost connection). */
  load(views: NodeApproval[]): void {
    const fresh = new Map(views.map((v) => [v.sessionId, v]))
    for (const id of [...this.#pending.keys()])
      if (!fresh.has(id) && !this.#waiting.has(id)) this.#finish(id, 'timeout')
    for (const v of fresh.values()) this.noteRequested(v)
  }

  /** End every local wait with `err` (the store is closing); their rows are timed out. */
  async abortAll(err: Error): Promise<void> {
    await Promise.allSettled([...this.#waiting.keys()].map((id) => this.#close(id, err)))
  }

  /** End a local wait on its own terms (deadline or session end) unless a decision got there first. */
  async #close(sessionId: string, why: 'timeout' | Error): Promise<void> {
    if (!this.#waiting.has(sessionId)) return
    // a session that ended waits no longer, whatever was decided, and its console row goes (as
    // 'timeout': the session gave up waiting); the row in the table is settled below
    if (why instanceof Error) {
      this.#waiting.get(sessionId)?.settle(why)
      this.#finish(sessionId, endedBy(why))
    }
    let outcome: ApprovalOutcome = 'timeout'
    try {
      const { pool, now, node, channel } = this.#init
      const res = await pool.query(DECIDE, [sessionId, 'timeout', now(), node, channel])
      if (res.rowCount !== 1) {
        const row = await pool.query<{ status: string }>(
          'SELECT status FROM approvals WHERE session_id = $1',
          [sessionId]
        )
        const status = row.rows[0]?.status
        if (status === 'approve' || status === 'reject') outcome = status
      }
    } catch {
      // the database is unreachable: the session still ends; the row is timed out by recovery
    }
    this.#finish(sessionId, outcome)
  }

  #add(view: NodeApproval): void {
    this.#pending.set(view.sessionId, view)
    this.#init.requested({ ...view, bundle: { ...view.bundle } })
  }

  #finish(sessionId: string, outcome: ApprovalOutcome): void {
    if (this.#pending.delete(sessionId)) this.#init.resolved(sessionId, outcome)
    this.#waiting.get(sessionId)?.settle(outcome)
  }
}
