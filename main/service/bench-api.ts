/** The load-test API paths: synthetic sessions through the live table and event stream (TALEUS_BENCH=1 only). */
import type { SessionEvent } from '../views/console-views.ts'
import { ApiError } from './api-error.ts'
import { benchEnabled, emitSyntheticSessions, parseSyntheticEvents } from './bench-sessions.ts'
import type { SyntheticSessionsInput } from './bench-sessions.ts'

/** Push `input.count` synthetic sessions through `onEvent`; refused unless TALEUS_BENCH=1. */
export async function injectSyntheticSessions(
  input: SyntheticSessionsInput,
  assertRunning: () => unknown,
  onEvent: (event: SessionEvent) => void,
  { signal }: { signal: AbortSignal }
): Promise<{ injected: number }> {
  if (!benchEnabled()) throw new ApiError('not-found', 404, 'no such API path')
  assertRunning()
  const count = (input as { count?: unknown } | undefined)?.count
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 10_000)
    throw new ApiError('bad-input', 400, 'count: an integer from 1 to 10000')
  return emitSyntheticSessions({ count }, onEvent, { signal })
}

/** Push caller-paced synthetic SessionEvents through `onEvent`; refused unless TALEUS_BENCH=1. */
export async function injectSessionEvents(
  input: { events: SessionEvent[] },
  assertRunning: () => unknown,
  onEvent: (event: SessionEvent) => void
): Promise<{ injected: number }> {
  if (!benchEnabled()) throw new ApiError('not-found', 404, 'no such API path')
  assertRunning()
  const events = parseSyntheticEvents(input)
  if (events === undefined) throw new ApiError('bad-input', 400, 'events: up to 300 SessionEvents')
  for (const event of events) onEvent(event)
  return { injected: events.length }
}
