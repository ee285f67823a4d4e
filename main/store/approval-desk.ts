/**
 * Sessions waiting for an operator's identity decision. The first of approve, reject, the token's
 * approval deadline or the session's end settles a waiting session; anything later is not applied.
 */
import type { ApprovalEnd, ApprovalView, Decision, DecisionResult } from '../views/console-views.ts'

/** How a wait ended. */
export type ApprovalOutcome = ApprovalEnd

/** A wait cut by its session's end: the customer left (their stream closed), else it ran out of time. */
export function endedBy(err: Error): ApprovalOutcome {
  return err.name === 'StreamClosedError' ? 'left' : 'timeout'
}

interface Waiting {
  view: ApprovalView
  settle(outcome: ApprovalOutcome | Error): void
}

/** Callbacks for the store's events. */
export interface ApprovalDeskEvents {
  requested(view: ApprovalView): void
  resolved(sessionId: string, outcome: ApprovalOutcome): void
}

/** The pending operator approvals of one store. */
export class ApprovalDesk {
  #waiting = new Map<string, Waiting>()
  #events: ApprovalDeskEvents

  constructor(events: ApprovalDeskEvents) {
    this.#events = events
  }

  /**
   * Wait for a decision on `view.sessionId` for `timeoutMs` (then 'timeout'; `view.deadline` says when) or `signal` (throws its
   * reason; reported to watchers as 'left' when the customer left, else 'timeout').
   */
  wait(view: ApprovalView, timeoutMs: number, signal: AbortSignal): Promise<ApprovalOutcome> {
    signal.throwIfAborted()
    if (this.#waiting.has(view.sessionId))
      return Promise.reject(new Error('this session already waits for a decision'))
    let resolve!: (outcome: ApprovalOutcome) => void
    let reject!: (err: Error) => void
    const promise = new Promise<ApprovalOutcome>((res, rej) => {
      resolve = res
      reject = rej
    })
    const onAbort = (): void => {
      settle(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    }
    const timer = setTimeout(() => {
      settle('timeout')
    }, timeoutMs)
    const settle = (outcome: ApprovalOutcome | Error): void => {
      if (this.#waiting.get(view.sessionId) !== entry) return
      this.#waiting.delete(view.sessionId)
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      this.#events.resolved(view.sessionId, outcome instanceof Error ? endedBy(outcome) : outcome)
      if (outcome instanceof Error) reject(outcome)
      else resolve(outcome)
    }
    const entry: Waiting = { view, settle }
    this.#waiting.set(view.sessionId, entry)
    signal.addEventListener('abort', onAbort, { once: true })
    this.#events.requested(view)
    return promise
  }

  /** Apply a decision; `applied` is false when the session is not (or no longer) waiting. */
  decide(sessionId: string, decision: Decision): DecisionResult {
    const entry = this.#waiting.get(sessionId)
    if (entry === undefined) return { sessionId, decision, applied: false }
    entry.settle(decision)
    return { sessionId, decision, applied: true }
  }

  list(): ApprovalView[] {
    return [...this.#waiting.values()].map((w) => ({ ...w.view, bundle: { ...w.view.bundle } }))
  }

  /** End every wait with `err` (the store is closing). */
  abortAll(err: Error): void {
    for (const entry of [...this.#waiting.values()]) entry.settle(err)
  }
}
