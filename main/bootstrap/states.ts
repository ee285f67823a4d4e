/**
 * The session state machines as data, so a reader can hold them against docs/protocol.md.
 * Sessions move only through `transition`, which turns a move the table lacks into a thrown bug.
 */
import { IllegalTransitionError } from './errors.ts'
import type { DialerState, ListenerState, SessionState } from './types.ts'

/** Legal moves of a ListenerSession (party A). */
export const LISTENER_TRANSITIONS = {
  L_PROCESS_CONTACT: ['L_SEND_RESPONSE', 'L_FAILED', 'L_TIMEOUT'],
  L_SEND_RESPONSE: ['L_AWAIT_ACK', 'L_AWAIT_DATABASE', 'L_FAILED', 'L_TIMEOUT'],
  L_AWAIT_ACK: ['L_DONE', 'L_FAILED', 'L_TIMEOUT'],
  L_AWAIT_DATABASE: ['L_DONE', 'L_FAILED', 'L_TIMEOUT'],
  L_DONE: [],
  L_FAILED: [],
  L_TIMEOUT: []
} as const satisfies Record<ListenerState, readonly ListenerState[]>

/** Legal moves of a DialerSession (party B). */
export const DIALER_TRANSITIONS = {
  D_SEND_CONTACT: ['D_AWAIT_RESPONSE', 'D_FAILED', 'D_TIMEOUT'],
  D_AWAIT_RESPONSE: ['D_HANDLE_RESPONSE', 'D_FAILED', 'D_TIMEOUT'],
  D_HANDLE_RESPONSE: ['D_SEND_ACK', 'D_SEND_DATABASE', 'D_FAILED', 'D_TIMEOUT'],
  D_SEND_ACK: ['D_DONE', 'D_FAILED', 'D_TIMEOUT'],
  D_SEND_DATABASE: ['D_AWAIT_ACK', 'D_FAILED', 'D_TIMEOUT'],
  D_AWAIT_ACK: ['D_DONE', 'D_FAILED', 'D_TIMEOUT'],
  D_DONE: [],
  D_FAILED: [],
  D_TIMEOUT: []
} as const satisfies Record<DialerState, readonly DialerState[]>

/** First state of each session kind. */
export const LISTENER_INITIAL_STATE: ListenerState = 'L_PROCESS_CONTACT'
/** First state of each session kind. */
export const DIALER_INITIAL_STATE: DialerState = 'D_SEND_CONTACT'

/** States a listener session ends in. */
export const LISTENER_TERMINAL_STATES: ReadonlySet<ListenerState> = new Set([
  'L_DONE',
  'L_FAILED',
  'L_TIMEOUT'
])
/** States a dialer session ends in. */
export const DIALER_TERMINAL_STATES: ReadonlySet<DialerState> = new Set(['D_DONE', 'D_FAILED', 'D_TIMEOUT'])

/** True when `state` ends a session (either kind). */
export function isTerminalState(state: SessionState): boolean {
  return (
    LISTENER_TERMINAL_STATES.has(state as ListenerState) || DIALER_TERMINAL_STATES.has(state as DialerState)
  )
}

/** Returns `to` when the table allows `from → to`; otherwise throws IllegalTransitionError. */
export function transition<S extends string>(table: Record<S, readonly S[]>, from: S, to: S): S {
  const allowed = table[from] as readonly S[] | undefined
  if (allowed == null || !allowed.includes(to)) {
    throw new IllegalTransitionError(`illegal transition ${from} -> ${to}`)
  }
  return to
}
