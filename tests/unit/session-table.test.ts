/** The console's live table of sessions: one row per session, carried forward event by event. */
import { describe, expect, it } from 'vitest'
import { SessionTable } from '../../main/service/session-table.ts'
import type { SessionEvent } from '../../main/views/console-views.ts'

const event = (over: Partial<SessionEvent>): SessionEvent => ({
  sessionId: 's1',
  direction: 'inbound',
  state: 'L_PROCESS_CONTACT',
  previousState: null,
  at: 1000,
  peerId: 'peer-B',
  ...over
})

describe('SessionTable', () => {
  it('holds only the fields an event has set, and carries them to later rows', () => {
    const table = new SessionTable(10, (tokenId) => (tokenId === 'tok1' ? 'Front desk' : undefined))
    const first = table.apply(event({}))
    // no key without a value: the row goes out to the console as it is
    expect(Object.keys(first).sort()).toEqual(
      ['direction', 'done', 'peerId', 'sessionId', 'startedAt', 'state', 'updatedAt'].sort()
    )
    table.apply(event({ state: 'L_SEND_RESPONSE', at: 1010, tokenId: 'tok1', role: 'stock' }))
    const last = table.apply(event({ state: 'L_DONE', at: 1030, tallyId: 'tally-1', peerId: '' }), 'node-A')
    expect(last).toEqual({
      sessionId: 's1',
      direction: 'inbound',
      state: 'L_DONE',
      done: true,
      startedAt: 1000,
      updatedAt: 1030,
      peerId: 'peer-B',
      role: 'stock',
      tokenId: 'tok1',
      tokenLabel: 'Front desk',
      tallyId: 'tally-1',
      node: 'node-A'
    })
    expect(Object.values(last)).not.toContain(undefined)
    const failed = table.apply(
      event({ sessionId: 's2', state: 'L_FAILED', reason: 'invalid-token', peerLeft: true })
    )
    expect(failed).toMatchObject({ done: true, reason: 'invalid-token', peerLeft: true })
    expect('tokenLabel' in failed).toBe(false)
  })

  it('keeps at most maxFinished finished rows, dropping the oldest in one go', () => {
    const table = new SessionTable(10)
    for (let i = 0; i < 25; i++) table.apply(event({ sessionId: `s${i}`, state: 'L_DONE', at: i }))
    expect(table.size).toBeLessThanOrEqual(10)
    expect(table.get('s24')).toBeDefined()
    expect(table.get('s0')).toBeUndefined()
  })
})
