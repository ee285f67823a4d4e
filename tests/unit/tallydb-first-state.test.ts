/**
 * A tally document's derived first state (bootstrap 1.3.0): the same bytes whatever order its inputs come
 * in, pinned to a known head (an engine upgrade that encodes it otherwise would make two parties of
 * different builds disagree about every tally), and the seed the frame carries parsed strictly.
 */
import { describe, expect, it } from 'vitest'
import { decodeChange, getAllChanges, getHeads, load } from '@automerge/automerge'
import {
  firstActor,
  firstCommitTime,
  firstStateBytes,
  seedTerms,
  seedText
} from '../../main/tallydb/first-state.ts'
import type { FirstSeed } from '../../main/tallydb/first-state.ts'
import { docView } from '../../main/tallydb/doc-view.ts'
import type { StoredTallyDoc } from '../../main/tallydb/tally-document.ts'

const A = '12D3KooWA'
const seed: FirstSeed = {
  tally: {
    tallyId: '6f1c1c9e-8f7e-4d0e-9a55-000000000001',
    createdBy: 'stock',
    initiatorPeerId: '12D3KooWB',
    respondentPeerId: A,
    createdAt: '2026-12-01T10:00:00.123Z'
  },
  terms: { unit: 'CHIP', stockCreditLimit: 100 },
  by: A,
  form: 'scalar'
}

describe('the derived first state', () => {
  it('is pinned: this seed gives this head (a change here breaks every 1.3.0 tally with an older build)', () => {
    const bytes = firstStateBytes(seed)
    expect(getHeads(load(bytes))).toEqual([
      'df32c2ed923f50783b996a8405612931a7c44363ac6f9ee42793d4f5b7ca89d3'
    ])
    expect(bytes.byteLength).toBe(390)
  })

  it('is the same whatever order the tally and terms hold their fields in', () => {
    const { tallyId, createdBy, initiatorPeerId, respondentPeerId, createdAt } = seed.tally
    const reordered: FirstSeed = {
      form: 'scalar',
      by: A,
      terms: { stockCreditLimit: 100, unit: 'CHIP' },
      tally: { createdAt, respondentPeerId, initiatorPeerId, createdBy, tallyId }
    }
    expect(Buffer.from(firstStateBytes(reordered)).equals(Buffer.from(firstStateBytes(seed)))).toBe(true)
    // and it round-trips through the frame's seed
    const fromFrame = { ...seed, terms: seedTerms(JSON.parse(JSON.stringify(seedText(seed.terms)))) }
    expect(Buffer.from(firstStateBytes(fromFrame)).equals(Buffer.from(firstStateBytes(seed)))).toBe(true)
  })

  it("is the tally's document, one change by an actor derived from the tally id at its creation second", () => {
    const doc = load<StoredTallyDoc>(firstStateBytes(seed))
    const view = docView(doc)
    expect(view.tally).toEqual(seed.tally)
    expect(view.terms).toEqual(seed.terms)
    expect(view.log).toEqual([{ at: seed.tally.createdAt, by: A, kind: 'created' }])
    const changes = getAllChanges(doc)
    expect(changes).toHaveLength(1)
    const change = decodeChange(changes[0]!)
    expect(change.actor).toBe(firstActor(seed.tally.tallyId))
    expect(change.time).toBe(Math.floor(Date.parse(seed.tally.createdAt) / 1000))
    expect(change.deps).toEqual([])
  })

  it('differs for another tally, other terms, another provisioner or another string form', () => {
    const head = (s: FirstSeed): string => getHeads(load(firstStateBytes(s)))[0]!
    const heads = [
      head(seed),
      head({ ...seed, tally: { ...seed.tally, tallyId: '6f1c1c9e-8f7e-4d0e-9a55-000000000002' } }),
      head({ ...seed, terms: { unit: 'CHIP' } }),
      head({ ...seed, by: '12D3KooWB' }),
      head({ ...seed, form: 'text' })
    ]
    expect(new Set(heads).size).toBe(heads.length)
    expect(firstActor('a')).not.toBe(firstActor('b'))
    expect(firstActor('a')).toMatch(/^[0-9a-f]{32}$/)
  })

  it('needs a valid creation time', () => {
    expect(() => firstCommitTime({ ...seed.tally, createdAt: 'yesterday' })).toThrow(
      expect.objectContaining({ name: 'ProposalError' })
    )
    expect(() => firstStateBytes({ ...seed, tally: { ...seed.tally, createdAt: 'yesterday' } })).toThrow(
      expect.objectContaining({ name: 'ProposalError' })
    )
  })
})

describe("the frame's seed", () => {
  it('carries the standing terms and nothing else', () => {
    expect(seedText({})).toBe('{"terms":{}}')
    expect(seedTerms(seedText(seed.terms))).toEqual(seed.terms)
    expect(seedTerms('{}')).toEqual({})
    for (const bad of [
      'not json',
      '[]',
      'null',
      '"terms"',
      '{"terms":[]}',
      '{"terms":{"stockCreditLimit":-1}}',
      '{"terms":{"colour":"red"}}',
      '{"terms":{},"actor":"00"}',
      `{"terms":{"note":"${'x'.repeat(20_000)}"}}`
    ])
      expect(() => seedTerms(bad), bad.slice(0, 40)).toThrow(
        expect.objectContaining({ name: 'ProposalError' })
      )
  })
})
