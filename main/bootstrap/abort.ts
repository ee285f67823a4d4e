/** Small AbortSignal helpers shared by both session kinds. */
import { BootstrapError, TimeoutError } from './errors.ts'

/** True when an abort reason means "ran out of time" (AbortSignal.timeout's DOMException or ours). */
export function isTimeoutReason(reason: unknown): boolean {
  return (reason as { name?: unknown } | null)?.name === 'TimeoutError'
}

/** The BootstrapError to report for an aborted signal: TimeoutError for a deadline, else `fallback`. */
export function abortError(signal: AbortSignal, fallback: () => BootstrapError): BootstrapError {
  if (signal.reason instanceof BootstrapError) return signal.reason
  if (isTimeoutReason(signal.reason)) return new TimeoutError()
  return fallback()
}

/**
 * Settles with `promise`, or rejects with `toError(signal)` as soon as `signal` aborts — so a callee
 * that ignores its signal (a hung hook) cannot hang the session.
 */
export async function raceSignal<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  toError: (signal: AbortSignal) => Error
): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {})
    throw toError(signal)
  }
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        onAbort = () => {
          promise.catch(() => {})
          reject(toError(signal))
        }
        signal.addEventListener('abort', onAbort, { once: true })
      })
    ])
  } finally {
    if (onAbort != null) signal.removeEventListener('abort', onAbort)
  }
}

/**
 * A session deadline whose signal aborts with TimeoutError, and which can be pushed back — an operator
 * approval may legitimately outlast sessionTimeoutMs. Call clear() when the session ends.
 */
export class Deadline {
  private readonly controller = new AbortController()
  private at: number
  private timer: ReturnType<typeof setTimeout>
  /** Aborts (reason TimeoutError) when the deadline passes. */
  readonly signal: AbortSignal = this.controller.signal

  constructor(ms: number) {
    this.at = Date.now() + ms
    this.timer = this.arm()
  }

  /** Moves the deadline `ms` later (no effect once it passed). */
  extend(ms: number): void {
    if (this.signal.aborted || !(ms > 0)) return
    clearTimeout(this.timer)
    this.at += ms
    this.timer = this.arm()
  }

  /** Stops the timer. */
  clear(): void {
    clearTimeout(this.timer)
  }

  private arm(): ReturnType<typeof setTimeout> {
    const timer = setTimeout(
      () => this.controller.abort(new TimeoutError('the session ran out of time')),
      Math.max(0, this.at - Date.now())
    )
    // like AbortSignal.timeout: a pending deadline never keeps the process alive
    timer.unref?.()
    return timer
  }
}
