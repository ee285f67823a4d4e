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
