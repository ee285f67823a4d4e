/** The CLI's tables: a tally's counterparty by name when known; a failed session's reason. */
import { describe, expect, it } from 'vitest'
import { approvalsTable, sessionsTable, talliesTable } from '../../main/cli/format.ts'
import type { SessionView, TallyView } from '../../preload/contract.ts'

const base: TallyView = {
  tallyId: 'tally-1',
  role: 'stock',
  direction: 'inbound',
  status: 'confirmed',
  counterpartyPeerId: '12D3KooWCounterparty',
  localPeerId: '12D3KooWLocal',
  sessionId: 'session-1',
  tokenLabel: 'Counter 1',
  createdAt: Date.UTC(2026, 10, 25, 12),
  updatedAt: Date.UTC(2026, 10, 25, 12)
}

describe('talliesTable', () => {
  it('shows the counterparty name, or a dash when there is none', () => {
    const lines = talliesTable([
      { ...base, counterpartyName: 'Ann Lee' },
      { ...base, tallyId: 'tally-2', direction: 'outbound' }
    ]).split('\n')
    expect(lines[0]).toMatch(/TALLY\s+STATUS\s+YOUR ROLE\s+DIR\s+COUNTERPARTY\s+NAME\s+TOKEN\s+CREATED/)
    expect(lines.find((l) => l.startsWith('tally-1'))).toMatch(
      /confirmed\s+stock\s+in\s+\S+\s+Ann Lee\s+Counter 1/
    )
    expect(lines.find((l) => l.startsWith('tally-2'))).toMatch(/\sout\s+\S+\s+-\s+Counter 1/)
  })
})

describe('sessionsTable', () => {
  const session: SessionView = {
    sessionId: 'session-1',
    direction: 'inbound',
    state: 'L_FAILED',
    done: true,
    startedAt: Date.UTC(2026, 10, 25, 12),
    updatedAt: Date.UTC(2026, 10, 25, 12),
    peerId: '12D3KooWCounterparty',
    tallyId: 'tally-1',
    reason: 'role-mismatch'
  }

  it('a failed session shows its reason even when it had named a tally; a finished one its tally', () => {
    const lines = sessionsTable([
      session,
      { ...session, sessionId: 'session-2', state: 'L_DONE', reason: undefined }
    ]).split('\n')
    expect(lines.find((l) => l.startsWith('session-1'))).toMatch(/\srole-mismatch\s/)
    expect(lines.find((l) => l.startsWith('session-2'))).toMatch(/\stally-1\s/)
  })
})

describe('approvalsTable', () => {
  it('shows who waits, with the identity they presented and when the wait ends', () => {
    const lines = approvalsTable([
      {
        sessionId: 'session-9',
        tokenId: 'tk_1',
        tokenLabel: 'Counter 1',
        peerId: '12D3KooWCounterpartyPeerId',
        bundle: { name: 'Ann Lee', email: 'ann@example.org' },
        requestedAt: Date.UTC(2026, 10, 25, 12),
        deadline: Date.UTC(2026, 10, 25, 12, 2)
      }
    ]).split('\n')
    expect(lines[0]).toMatch(/SESSION\s+TOKEN\s+PEER\s+IDENTITY\s+WAITING SINCE\s+GIVES UP/)
    expect(lines[1]).toMatch(
      /session-9\s+Counter 1\s+\S+\s+name=Ann Lee, email=ann@example.org\s+2026-11-25T12:00:00Z\s+2026-11-25T12:02:00Z/
    )
  })
})
