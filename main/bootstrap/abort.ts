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

function noop(): void {}

/** A signal bounded by a parent signal and a timeout; clear() it when the scope ends. */
export interface ScopedSignal {
  readonly signal: AbortSignal
  /** Stops the timer and unhooks from the parent (idempotent). */
  clear(): void
}

/**
 * A signal that aborts with the parent's reason, or with TimeoutError after `ms`. One plain timer and one
 * listener that clear() removes: AbortSignal.any + AbortSignal.timeout cost several times more per step
 * on Node 20 (weak references kept until GC) and were a visible share of a rush's CPU profile.
 */
export function scopedSignal(
  parent: AbortSignal,
  ms: number,
  message = 'the step ran out of time'
): ScopedSignal {
  const controller = new AbortController()
  if (parent.aborted) {
    controller.abort(parent.reason)
    return { signal: controller.signal, clear: () => {} }
  }
  const onAbort = (): void => {
    clearTimeout(timer)
    controller.abort(parent.reason)
  }
  const timer = setTimeout(() => {
    parent.removeEventListener('abort', onAbort)
    controller.abort(new TimeoutError(message))
  }, ms)
  // like AbortSignal.timeout: a pending step never keeps the process alive
  timer.unref?.()
  parent.addEventListener('abort', onAbort, { once: true })
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer)
      parent.removeEventListener('abort', onAbort)
    }
  }
}

/**
 * A signal that aborts with TimeoutError after `ms`, unless clear()ed first: a plain timer, where
 * AbortSignal.timeout keeps its timer (and a weak reference) alive for the whole `ms` after the work
 * is done — thousands of them during a flood of refused contacts.
 */
export function timeoutSignal(ms: number, message = 'ran out of time'): ScopedSignal {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new TimeoutError(message)), ms)
  timer.unref?.()
  return { signal: controller.signal, clear: () => clearTimeout(timer) }
}

/**
 * A session deadline whose signal aborts with TimeoutError, and which can be pushed back — an operator
 * approval may legitimately outlast sessionTimeoutMs. It can also follow other signals (a stop, the
 * caller's), so a session needs no AbortSignal.any. Call clear() when the session ends.
 *
 * It also carries the deadline of the session's current step (step()): a step that runs out of time ends
 * the session anyway, so it aborts this one signal instead of a controller of its own, and `aborted`
 * rejects with the reason for whoever races the step — no AbortController, timer listener or race
 * listener per step, which were a tenth of a session's own CPU on each side.
 */
export class Deadline {
  private readonly controller = new AbortController()
  private at: number
  private timer: ReturnType<typeof setTimeout>
  private readonly unfollow: Array<() => void> = []
  private rejectAborted: ((reason: unknown) => void) | undefined
  /** The steps' shared timer, and what it was armed with (a step with other values gets a new one). */
  private stepTimer: ReturnType<typeof setTimeout> | undefined
  private stepMs = -1
  private stepMessage = ''
  /** Which step the timer is for, and whether that step is still running. */
  private stepNo = 0
  private stepArmed = false
  private abortedPromise: Promise<never> | undefined
  /** Aborts (reason TimeoutError) when the deadline passes. */
  readonly signal: AbortSignal = this.controller.signal

  constructor(ms: number) {
    this.at = Date.now() + ms
    this.timer = this.arm()
  }

  /** Rejects with the signal's reason once it aborts (never resolves): race a step against it. */
  get aborted(): Promise<never> {
    if (this.abortedPromise === undefined) {
      if (this.signal.aborted) {
        this.abortedPromise = Promise.reject(this.signal.reason as Error)
      } else {
        this.abortedPromise = new Promise<never>((_resolve, reject) => (this.rejectAborted = reject))
      }
      // nobody may be racing it when it rejects
      this.abortedPromise.catch(() => {})
    }
    return this.abortedPromise
  }

  /**
   * The deadline of one step: aborts this signal with TimeoutError(`message`) after `ms`, unless the
   * returned function is called first. Steps of a session run one at a time, so they share one timer,
   * restarted with refresh() (no Timeout object, list insertion and removal per step); a step's clear only
   * disarms it, and the session's clear() stops it.
   */
  step(ms: number, message = 'the step ran out of time'): () => void {
    if (this.signal.aborted) return noop
    const no = ++this.stepNo
    this.stepArmed = true
    const timer = this.stepTimer
    if (timer !== undefined && ms === this.stepMs && message === this.stepMessage && 'refresh' in timer) {
      timer.refresh()
    } else {
      clearTimeout(timer)
      this.stepMs = ms
      this.stepMessage = message
      this.stepTimer = setTimeout(() => this.stepElapsed(), ms)
      // like AbortSignal.timeout: a pending step never keeps the process alive
      this.stepTimer.unref?.()
    }
    return () => {
      if (this.stepNo === no) this.stepArmed = false
    }
  }

  /** Moves the deadline `ms` later (no effect once it passed). */
  extend(ms: number): void {
    if (this.signal.aborted || !(ms > 0)) return
    clearTimeout(this.timer)
    this.at += ms
    this.timer = this.arm()
  }

  /** Aborts this deadline's signal when `signal` aborts (with its reason, or what `reasonOf` makes of it), until clear(). */
  follow(signal: AbortSignal, reasonOf: (reason: unknown) => unknown = (reason) => reason): void {
    if (this.signal.aborted) return
    if (signal.aborted) {
      this.abort(reasonOf(signal.reason))
      return
    }
    const onAbort = (): void => this.abort(reasonOf(signal.reason))
    signal.addEventListener('abort', onAbort, { once: true })
    this.unfollow.push(() => signal.removeEventListener('abort', onAbort))
  }

  /**
   * Aborts now with `reason` (the peer left, a revoke, an eviction): one controller per session does for
   * the deadline, the stop and these, instead of a second controller followed by the deadline.
   */
  abort(reason: unknown): void {
    if (this.signal.aborted) return
    clearTimeout(this.timer)
    clearTimeout(this.stepTimer)
    this.controller.abort(reason)
    this.rejectAborted?.(reason)
  }

  /** Stops the timer and stops following other signals. */
  clear(): void {
    clearTimeout(this.timer)
    clearTimeout(this.stepTimer)
    for (const off of this.unfollow.splice(0)) off()
  }

  /** The shared step timer fired: a timeout only if the step it was last armed for is still running. */
  private stepElapsed(): void {
    if (this.stepArmed) this.abort(new TimeoutError(this.stepMessage))
  }

  private arm(): ReturnType<typeof setTimeout> {
    const timer = setTimeout(
      () => this.abort(new TimeoutError('the session ran out of time')),
      Math.max(0, this.at - Date.now())
    )
    // like AbortSignal.timeout: a pending deadline never keeps the process alive
    timer.unref?.()
    return timer
  }
}
