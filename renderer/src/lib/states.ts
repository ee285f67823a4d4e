/** Session states in words and as badge kinds. */
import type { SessionState, SessionView } from '../../../preload/contract.ts'

/** Badge colour class of a state. */
export type StateKind = 'active' | 'done' | 'failed' | 'timeout'

/** Every state, in flow order: listener then dialer. */
export const STATES: readonly SessionState[] = [
  'L_PROCESS_CONTACT',
  'L_SEND_RESPONSE',
  'L_AWAIT_DATABASE',
  'L_AWAIT_ACK',
  'L_DONE',
  'L_FAILED',
  'L_TIMEOUT',
  'D_SEND_CONTACT',
  'D_AWAIT_RESPONSE',
  'D_HANDLE_RESPONSE',
  'D_SEND_DATABASE',
  'D_SEND_ACK',
  'D_AWAIT_ACK',
  'D_DONE',
  'D_FAILED',
  'D_TIMEOUT'
]

const LABELS: Record<SessionState, string> = {
  L_PROCESS_CONTACT: 'Checking contact',
  L_SEND_RESPONSE: 'Replying',
  L_AWAIT_DATABASE: 'Awaiting database',
  L_AWAIT_ACK: 'Awaiting confirmation',
  L_DONE: 'Done',
  L_FAILED: 'Failed',
  L_TIMEOUT: 'Timed out',
  D_SEND_CONTACT: 'Contacting',
  D_AWAIT_RESPONSE: 'Awaiting reply',
  D_HANDLE_RESPONSE: 'Checking reply',
  D_SEND_DATABASE: 'Sending database',
  D_SEND_ACK: 'Confirming',
  D_AWAIT_ACK: 'Awaiting confirmation',
  D_DONE: 'Done',
  D_FAILED: 'Failed',
  D_TIMEOUT: 'Timed out'
}

/** A state in words. */
export function stateLabel(state: SessionState): string {
  return LABELS[state] ?? state
}

/** The badge kind of a state. */
export function stateKind(state: SessionState): StateKind {
  if (state.endsWith('_DONE')) return 'done'
  if (state.endsWith('_FAILED')) return 'failed'
  if (state.endsWith('_TIMEOUT')) return 'timeout'
  return 'active'
}

/**
 * The kind a session's row shows: a failure because time ran out (nobody approved, or the other node did
 * not answer) reads "Timed out" in its Result, so it is timed out here too, not failed.
 */
export function sessionKind(s: Pick<SessionView, 'state' | 'reason' | 'peerLeft'>): StateKind {
  const kind = stateKind(s.state)
  return kind === 'failed' && s.reason === 'timeout' && s.peerLeft !== true ? 'timeout' : kind
}

/** A step of a session in progress as the operator reads it, with the states that show as it. */
export interface Step {
  label: string
  states: readonly SessionState[]
}

/**
 * The steps in flow order, one per name: the listener's and the dialer's "Awaiting confirmation" are one
 * step to the operator, and the ends are the kinds Done, Failed and Timed out.
 */
export const STEPS: readonly Step[] = (() => {
  const steps = new Map<string, SessionState[]>()
  for (const state of STATES) {
    if (stateKind(state) !== 'active') continue
    const label = stateLabel(state)
    steps.set(label, [...(steps.get(label) ?? []), state])
  }
  return [...steps].map(([label, states]) => ({ label, states }))
})()
