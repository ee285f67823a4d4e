/**
 * The shared export columns and list filters (preload/): one definition for the screens and exportRows,
 * so that an export holds what a list shows.
 */
import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { INPUT_SCHEMAS } from '../../main/api/schemas.ts'
import type { TallyView } from '../../preload/contract.ts'
import { tallyColumns, toJson } from '../../main/views/export-columns.ts'
import { compareTallies, tallyMatches } from '../../main/views/list-filters.ts'
import { dateBounds } from '../../renderer/src/lib/filters.ts'

function tally(tallyId: string, createdAt: number, identity?: Record<string, string>): TallyView {
  return {
    tallyId,
    status: 'confirmed',
    role: 'stock',
    direction: 'inbound',
    counterpartyPeerId: '12D3KooWpeer',
    sessionId: `s-${tallyId}`,
    createdAt,
    updatedAt: createdAt,
    ...(identity === undefined ? {} : { counterpartyIdentity: identity })
  } as TallyView
}

describe('export columns and list filters', () => {
  it('adds one column per identity field the rows hold, in key order', () => {
    const rows = [tally('a', 1, { name: 'Ann', email: 'ann@x' }), tally('b', 2)]
    const json = JSON.parse(toJson(rows, tallyColumns(rows))) as Array<Record<string, string>>
    expect(Object.keys(json[0] ?? {}).slice(-2)).toEqual(['identity.email', 'identity.name'])
    expect(json[1]?.['identity.name']).toBe('')
    expect(json[0]?.role).toBe('stock')
  })

  it('a date range from the screen keeps both days whole', () => {
    const q = dateBounds('2026-01-02', '2026-01-03')
    const at = (s: string): number => new Date(s).getTime()
    expect(tallyMatches(tally('a', at('2026-01-02T00:00:00')), q)).toBe(true)
    expect(tallyMatches(tally('b', at('2026-01-03T23:59:59')), q)).toBe(true)
    expect(tallyMatches(tally('c', at('2026-01-04T00:00:00')), q)).toBe(false)
    expect(tallyMatches(tally('d', at('2026-01-01T23:59:59')), q)).toBe(false)
  })

  it('searches identity values and orders newest first, then by id', () => {
    expect(tallyMatches(tally('a', 1, { email: 'Ann@Shop' }), { q: 'ann@' })).toBe(true)
    expect([tally('b', 1), tally('a', 1), tally('c', 2)].sort(compareTallies).map((t) => t.tallyId)).toEqual([
      'c',
      'a',
      'b'
    ])
  })

  it('an export takes the filters of its own list only', () => {
    const ok = (input: unknown): boolean => v.safeParse(INPUT_SCHEMAS.exportRows, input).success
    expect(ok({ what: 'audit', format: 'csv', query: { limit: 200, before: 5 } })).toBe(true)
    expect(ok({ what: 'tokens', format: 'json', query: { archived: true, q: 'x' } })).toBe(true)
    expect(ok({ what: 'tallies', format: 'csv', query: { archived: true } })).toBe(false)
    expect(ok({ what: 'audit', format: 'csv', query: { q: 'x' } })).toBe(false)
    expect(ok({ what: 'sessions', format: 'csv' })).toBe(false)
  })
})
