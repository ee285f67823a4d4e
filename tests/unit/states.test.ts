import { describe, expect, it } from 'vitest'
import {
  DIALER_TERMINAL_STATES,
  DIALER_TRANSITIONS,
  LISTENER_TERMINAL_STATES,
  LISTENER_TRANSITIONS,
  isTerminalState,
  transition
} from '../../main/bootstrap/states.ts'

const tables = [
  ['listener', LISTENER_TRANSITIONS, LISTENER_TERMINAL_STATES],
  ['dialer', DIALER_TRANSITIONS, DIALER_TERMINAL_STATES]
] as const

describe('state tables', () => {
  it.each(tables)(
    '%s: every legal move is allowed, every other move throws IllegalTransitionError',
    (_n, table, terminal) => {
      const table_ = table as Record<string, readonly string[]>
      const states = Object.keys(table_)
      let legal = 0
      let illegal = 0
      for (const from of states) {
        for (const to of states) {
          if (table_[from]!.includes(to)) {
            expect(transition(table_, from, to)).toBe(to)
            legal++
          } else {
            expect(() => transition(table_, from, to)).toThrow(
              expect.objectContaining({ name: 'IllegalTransitionError' })
            )
            illegal++
          }
        }
      }
      expect(legal).toBeGreaterThan(0)
      expect(legal + illegal).toBe(states.length ** 2)
      for (const state of terminal) {
        expect(table_[state]).toEqual([])
        expect(isTerminalState(state as never)).toBe(true)
      }
    }
  )

  it('matches the documented diagram (with the Ack)', () => {
    expect(LISTENER_TRANSITIONS.L_SEND_RESPONSE).toEqual([
      'L_AWAIT_ACK',
      'L_AWAIT_DATABASE',
      'L_FAILED',
      'L_TIMEOUT'
    ])
    expect(DIALER_TRANSITIONS.D_HANDLE_RESPONSE).toEqual([
      'D_SEND_ACK',
      'D_SEND_DATABASE',
      'D_FAILED',
      'D_TIMEOUT'
    ])
    expect(DIALER_TRANSITIONS.D_SEND_DATABASE).toEqual(['D_AWAIT_ACK', 'D_FAILED', 'D_TIMEOUT'])
    expect(isTerminalState('L_PROCESS_CONTACT')).toBe(false)
    expect(() =>
      transition(LISTENER_TRANSITIONS as Record<string, readonly string[]>, 'L_DONE', 'L_PROCESS_CONTACT')
    ).toThrow()
    // every non-terminal state can fail and time out
    for (const [state, next] of Object.entries({ ...LISTENER_TRANSITIONS, ...DIALER_TRANSITIONS })) {
      if (isTerminalState(state as never)) continue
      expect(next.some((s) => s.endsWith('_FAILED'))).toBe(true)
      expect(next.some((s) => s.endsWith('_TIMEOUT'))).toBe(true)
    }
  })
})
