/** The event batcher and the session table the console service builds on. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { EventBatcher } from '../../main/service/event-batcher.ts'
import { SessionTable } from '../../main/service/session-table.ts'
import type { ConsoleEvent, SessionEvent } from '../../preload/contract.ts'

function sessionEvent(
  sessionId: string,
  state: SessionEvent['state'],
  previousState: SessionEvent['state'] | null,
  at: number,
  extra: Partial<SessionEvent> = {}
): SessionEvent {
  return { sessionId, direction: 'inbound', state, previousState, at, peerId: 'peer-1', ...extra }
}

function consoleEvent(event: SessionEvent): ConsoleEvent {
  return { kind: 'session', event, session: new SessionTable().apply(event) }
}

describe('EventBatcher', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('delivers nothing until the interval ends, then one batch', () => {
    vi.useFakeTimers()
    const batcher = new EventBatcher({ intervalMs: 50 })
    const batches: ConsoleEvent[][] = []
    batcher.subscribe((b) => batches.push(b))
    for (let i = 0; i < 1000; i++)
      batcher.push(consoleEvent(sessionEvent(`s${i}`, 'L_PROCESS_CONTACT', null, i)))
    expect(batches).toHaveLength(0)
    vi.advanceTimersByTime(50)
    expect(batches).toHaveLength(1)
    expect(batches[0]).toHaveLength(1000)
  })

  it('folds repeated updates of one session in a batch into the latest, keeping order', () => {
    const batcher = new EventBatcher()
    const batches: ConsoleEvent[][] = []
    batcher.subscribe((b) => batches.push(b))
    batcher.push(consoleEvent(sessionEvent('a', 'L_PROCESS_CONTACT', null, 1)))
    batcher.push({
      kind: 'peer',
      peer: { peerId: 'p', multiaddrs: [], source: 'mdns', connected: false, lastSeen: 1 }
    })
    batcher.push(consoleEvent(sessionEvent('b', 'L_PROCESS_CONTACT', null, 2)))
    batcher.push(consoleEvent(sessionEvent('a', 'L_SEND_RESPONSE', 'L_PROCESS_CONTACT', 3)))
    batcher.push(consoleEvent(sessionEvent('a', 'L_DONE', 'L_AWAIT_ACK', 4)))
    batcher.flush()
    expect(batches).toHaveLength(1)
    const batch = batches[0] as ConsoleEvent[]
    expect(
      batch.map((e) => (e.kind === 'session' ? `${e.session.sessionId}:${e.session.state}` : e.kind))
    ).toEqual(['a:L_DONE', 'peer', 'b:L_PROCESS_CONTACT'])
    // The next batch starts afresh.
    batcher.push(consoleEvent(sessionEvent('a', 'L_DONE', 'L_AWAIT_ACK', 5)))
    batcher.flush()
    expect(batches).toHaveLength(2)
  })

  it('keeps every step of an outbound dial, so the Dial screen can show each state', () => {
    vi.useFakeTimers()
    const batcher = new EventBatcher({ intervalMs: 50 })
    const batches: ConsoleEvent[][] = []
    batcher.subscribe((b) => batches.push(b))
    const out = { direction: 'outbound' } as const
    batcher.push(consoleEvent(sessionEvent('d1', 'D_SEND_CONTACT', null, 1, out)))
    batcher.push(consoleEvent(sessionEvent('d1', 'D_AWAIT_RESPONSE', 'D_SEND_CONTACT', 2, out)))
    batcher.push(consoleEvent(sessionEvent('d1', 'D_HANDLE_RESPONSE', 'D_AWAIT_RESPONSE', 3, out)))
    vi.advanceTimersByTime(50)
    const states = batches.flat().map((e) => (e.kind === 'session' ? e.event.state : e.kind))
    expect(states).toEqual(['D_SEND_CONTACT', 'D_AWAIT_RESPONSE', 'D_HANDLE_RESPONSE'])
  })

  it('keeps nothing without subscribers and stops delivering after unsubscribe', () => {
    const batcher = new EventBatcher()
    batcher.push(consoleEvent(sessionEvent('a', 'L_PROCESS_CONTACT', null, 1)))
    const batches: ConsoleEvent[][] = []
    const off = batcher.subscribe((b) => batches.push(b))
    batcher.flush()
    expect(batches).toHaveLength(0)
    batcher.push(consoleEvent(sessionEvent('a', 'L_DONE', null, 2)))
    off()
    batcher.flush()
    expect(batches).toHaveLength(0)
  })

  it('a throwing subscriber does not starve the others', () => {
    const batcher = new EventBatcher()
    const batches: ConsoleEvent[][] = []
    batcher.subscribe(() => {
      throw new Error('broken window')
    })
    batcher.subscribe((b) => batches.push(b))
    batcher.push(consoleEvent(sessionEvent('a', 'L_PROCESS_CONTACT', null, 1)))
    batcher.flush()
    expect(batches).toHaveLength(1)
  })
})

describe('SessionTable', () => {
  it('tracks a session from first to last event, with the token label', () => {
    const table = new SessionTable(10, (tokenId) => (tokenId === 'tk1' ? 'Counter 1' : undefined))
    table.apply(sessionEvent('s', 'L_PROCESS_CONTACT', null, 100))
    table.apply(
      sessionEvent('s', 'L_SEND_RESPONSE', 'L_PROCESS_CONTACT', 110, { tokenId: 'tk1', role: 'stock' })
    )
    const row = table.apply(sessionEvent('s', 'L_DONE', 'L_AWAIT_ACK', 130, { tallyId: 'tally-1' }))
    expect(row).toEqual({
      sessionId: 's',
      direction: 'inbound',
      state: 'L_DONE',
      done: true,
      startedAt: 100,
      updatedAt: 130,
      peerId: 'peer-1',
      role: 'stock',
      tokenId: 'tk1',
      tokenLabel: 'Counter 1',
      tallyId: 'tally-1'
    })
  })

  it('caps finished rows, dropping the oldest finished first and never a live one', () => {
    const table = new SessionTable(100)
    table.apply(sessionEvent('live', 'L_PROCESS_CONTACT', null, 0))
    for (let i = 0; i < 300; i++) {
      table.apply(sessionEvent(`s${i}`, 'L_PROCESS_CONTACT', null, i))
      table.apply(sessionEvent(`s${i}`, 'L_FAILED', 'L_PROCESS_CONTACT', i, { reason: 'invalid-token' }))
    }
    expect(table.size).toBeLessThanOrEqual(101)
    expect(table.get('live')?.done).toBe(false)
    expect(table.get('s299')?.reason).toBe('invalid-token')
    expect(table.get('s0')).toBeUndefined()
  })
})
