/**
 * Which code makes AbortSignal.timeout calls: such a signal's timer outlives the work and fires later, a
 * DOMException each, so the hot paths must not make one per customer (tests/unit/libp2p-timers.test.ts,
 * refusal-path.test.ts).
 */
import { vi } from 'vitest'

/** The call stacks of AbortSignal.timeout while `fn` runs (the signals are still made, as before). */
export async function timeoutStacks(fn: () => Promise<void>): Promise<string[]> {
  const original = AbortSignal.timeout.bind(AbortSignal)
  const stacks: string[] = []
  const spy = vi.spyOn(AbortSignal, 'timeout').mockImplementation((ms: number) => {
    stacks.push(new Error().stack ?? '')
    return original(ms)
  })
  try {
    await fn()
  } finally {
    spy.mockRestore()
  }
  return stacks
}
