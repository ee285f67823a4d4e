/** The terms fields and the sync state of a tally's shared document, in a user's words. */
import { describe, expect, it } from 'vitest'
import type { TallyDocumentView } from '../../preload/contract.ts'
import { syncState } from '../../renderer/src/lib/tally-sync.ts'
import { checkTermsForm, emptyTerms, termLines, termsInput } from '../../renderer/src/lib/terms.ts'

describe('terms form', () => {
  it('says what is wrong in words and sends nothing it cannot read', () => {
    const f = { ...emptyTerms(), youLend: '12,5', theyLend: '-3', unit: 'x'.repeat(33) }
    const errors = checkTermsForm(f)
    expect(errors.youLend).toContain('is not an amount')
    expect(errors.theyLend).toContain('is not an amount')
    expect(errors.unit).toContain('Keep the unit short')
    expect(checkTermsForm({ ...emptyTerms(), youLend: '1e99' }).youLend).toContain('is not an amount')
    expect(checkTermsForm({ ...emptyTerms(), youLend: '9'.repeat(17) }).youLend).toBe(
      'That amount is too large.'
    )
  })

  it('a proposal changes at least one term; standing terms may be empty', () => {
    expect(checkTermsForm(emptyTerms())).toEqual({})
    expect(checkTermsForm(emptyTerms(), { atLeastOne: true }).terms).toContain('at least one term')
    expect(checkTermsForm({ ...emptyTerms(), note: 'hi' }, { atLeastOne: true })).toEqual({})
  })

  it('"you let them owe" is the own role\'s limit', () => {
    const f = { youLend: ' 1 000.50 ', theyLend: '0', unit: ' CHIP ', note: '' }
    expect(termsInput(f, 'stock')).toEqual({ stockCreditLimit: 1000.5, foilCreditLimit: 0, unit: 'CHIP' })
    expect(termsInput(f, 'foil')).toEqual({ foilCreditLimit: 1000.5, stockCreditLimit: 0, unit: 'CHIP' })
    expect(termLines({ stockCreditLimit: 5, foilCreditLimit: 1, unit: 'USD' }, 'foil')).toEqual([
      { key: 'foilCreditLimit', label: 'You let them owe up to', value: '1 USD' },
      { key: 'stockCreditLimit', label: 'They let you owe up to', value: '5 USD' },
      { key: 'unit', label: 'Unit', value: 'USD' }
    ])
  })
})

describe('sync state', () => {
  const base: TallyDocumentView = {
    tallyId: 't',
    documentId: 'd',
    provisioner: true,
    counterpartyPeerId: 'them',
    revoked: false,
    connected: false,
    lastSyncAt: Date.parse('2026-01-01T10:00:00Z'),
    refused: null,
    document: {
      schema: 'taleus/tally/1',
      tally: {
        tallyId: 't',
        createdBy: 'stock',
        initiatorPeerId: 'them',
        respondentPeerId: 'me',
        createdAt: '2026-01-01T09:00:00Z'
      },
      terms: {},
      proposals: [],
      log: [{ at: '2026-01-01T09:00:00Z', by: 'me', kind: 'created' }]
    }
  }

  it('synced, not yet, unreachable, revoked, checking', () => {
    expect(syncState(undefined, 'me').kind).toBe('checking')
    expect(syncState({ ...base, connected: true }, 'me').kind).toBe('synced')
    expect(syncState(base, 'me').kind).toBe('unreachable')
    const later = {
      ...base,
      document: {
        ...base.document,
        log: [...base.document.log, { at: '2026-01-01T11:00:00Z', by: 'me', kind: 'proposed' as const }]
      }
    }
    expect(syncState(later, 'me').kind).toBe('not-yet')
    expect(syncState(later, 'them').kind).toBe('unreachable')
    expect(syncState({ ...later, connected: true }, 'me').kind).toBe('synced')
    expect(syncState({ ...base, revoked: true }, 'me').kind).toBe('revoked')
  })

  it('their changes refused: says so with the reason, even while connected, until a later sync', () => {
    const refused = {
      ...base,
      connected: true,
      refused: { at: base.lastSyncAt! + 1, reason: 'it accepts in the other party’s name' }
    }
    const state = syncState(refused, 'me')
    expect(state.kind).toBe('refused')
    expect(state.text).toContain('it accepts in the other party’s name')
    expect(syncState({ ...refused, lastSyncAt: base.lastSyncAt! + 5 }, 'me').kind).toBe('synced')
  })
})
