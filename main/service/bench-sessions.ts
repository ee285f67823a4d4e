/**
 * Synthetic sessions for load tests of the console (TALEUS_BENCH=1 only): rows that walk the listener's
 * states through the real session table and event stream, without a network, a store or an audit entry.
 */
import { randomUUID } from 'node:crypto'
import type { SessionEvent, SessionState } from '../views/console-views.ts'

/** True when the process was started for benchmarks and load tests. */
export function benchEnabled(): boolean {
  return process.env['TALEUS_BENCH'] === '1'
}

/** Input of injectSyntheticSessions. */
export interface SyntheticSessionsInput {
  /** How many sessions, 1 to MAX_SYNTHETIC_SESSIONS. */
  count: number
}

/** Most synthetic sessions per call. */
export const MAX_SYNTHETIC_SESSIONS = 10_000

/** Sessions started per wave; each wave's steps go out a tick apart so the stream carries live changes. */
const WAVE = 100

const PATH: SessionState[] = ['L_PROCESS_CONTACT', 'L_SEND_RESPONSE', 'L_AWAIT_ACK']

/** Emit `count` synthetic inbound sessions through `emit`: 9 in 10 end L_DONE, the rest L_FAILED. */
export async function emitSyntheticSessions(
  input: SyntheticSessionsInput,
  emit: (event: SessionEvent) => void,
  options: { signal?: AbortSignal } = {}
): Promise<{ injected: number }> {
  const count = input.count
  if (!Number.isInteger(count) || count < 1 || count > MAX_SYNTHETIC_SESSIONS) {
    throw new RangeError(`count must be an integer from 1 to ${MAX_SYNTHETIC_SESSIONS}`)
  }
  for (let start = 0; start < count; start += WAVE) {
    const ids = Array.from({ length: Math.min(WAVE, count - start) }, () => randomUUID())
    let previous: SessionState | null = null
    for (const state of PATH) {
      options.signal?.throwIfAborted()
      ids.forEach((id, i) => emit(event(id, start + i, state, previous)))
      previous = state
      await tick()
    }
    ids.forEach((id, i) => {
      const n = start + i
      const failed = n % 10 === 9
      emit({
        ...event(id, n, failed ? 'L_FAILED' : 'L_DONE', previous),
        ...(failed ? { reason: 'identity-rejected' as const } : { tallyId: `bench-tally-${id}` })
      })
    })
    await tick()
  }
  return { injected: count }
}

function event(id: string, n: number, state: SessionState, previousState: SessionState | null): SessionEvent {
  return {
    sessionId: id,
    direction: 'inbound',
    state,
    previousState,
    at: Date.now(),
    peerId: `bench-peer-${String(n).padStart(5, '0')}`,
    role: 'stock'
  }
}

function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5))
}

/** HTTP path of the synthetic-session route (served only when TALEUS_BENCH=1). */
export const BENCH_SESSIONS_PATH = '/api/bench/sessions'

/** HTTP path of the paced synthetic-event route (TALEUS_BENCH=1 only): the caller makes and paces the events. */
export const BENCH_EVENTS_PATH = '/api/bench/events'

/** Most events per call of injectSessionEvents. */
export const MAX_SYNTHETIC_EVENTS = 300

const TEXT_MAX = 200

/** The events of an injectSessionEvents body, or undefined when it is not `{ events: SessionEvent[] }`. */
export function parseSyntheticEvents(input: unknown): SessionEvent[] | undefined {
  const events = (input as { events?: unknown } | null | undefined)?.events
  if (!Array.isArray(events) || events.length > MAX_SYNTHETIC_EVENTS) return undefined
  const text = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= TEXT_MAX
  const out: SessionEvent[] = []
  for (const e of events as Array<Partial<SessionEvent> | null>) {
    if (e === null || typeof e !== 'object') return undefined
    if (!text(e.sessionId) || !text(e.state) || !text(e.peerId) || typeof e.at !== 'number') return undefined
    if (e.direction !== 'inbound' && e.direction !== 'outbound') return undefined
    const event: SessionEvent = {
      sessionId: e.sessionId,
      direction: e.direction,
      state: e.state,
      previousState: text(e.previousState) ? e.previousState : null,
      at: e.at,
      peerId: e.peerId
    }
    if (e.role === 'stock' || e.role === 'foil') event.role = e.role
    if (text(e.tokenId)) event.tokenId = e.tokenId
    if (text(e.tallyId)) event.tallyId = e.tallyId
    if (text(e.reason)) event.reason = e.reason
    out.push(event)
  }
  return out
}
