/** The CLI's tally table names the counterparty when its identity is known. */
import { describe, expect, it } from 'vitest'
import { talliesTable } from '../../main/cli/format.ts'
import type { TallyView } from '../../preload/contract.ts'

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
