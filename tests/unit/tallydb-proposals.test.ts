/**
 * Closing proposals without accepting them: the proposer withdraws, the other party declines, a party's new
 * proposal replaces its earlier open ones; nothing closed can be accepted, and the terms never move.
 */
import { describe, expect, it } from 'vitest'
import { change, clone, getChanges, load } from '@automerge/automerge'
import { vetChanges } from '../../main/tallydb/change-vetting.ts'
import { newDocumentBytes } from '../helpers/legacy-document.ts'
import {
  MAX_PROPOSALS_PER_PARTY,
  acceptProposal,
  addProposal,
  closeProposal,
  scalars
} from '../../main/tallydb/tally-document.ts'
import { docView } from '../../main/tallydb/doc-view.ts'
import type { StoredTallyDoc, TermsProposal } from '../../main/tallydb/tally-document.ts'
import { A, B, C, at, draftTally } from '../helpers/tally-parties.ts'

const tally = draftTally()

function proposal(proposalId: string, by: string, note: string): TermsProposal {
  return { proposalId, by, at, terms: { note }, status: 'open' }
}

function start(): StoredTallyDoc {
  return load<StoredTallyDoc>(newDocumentBytes(tally, { note: 'settle monthly' }, A, at))
}

describe('closing proposals', () => {
  it('a new proposal replaces its proposer’s open ones (not the other party’s), which can then not be accepted', () => {
    let doc = change(start(), (d) => addProposal(d, proposal('b1', B, '600')))
    doc = change(doc, (d) => addProposal(d, proposal('a1', A, 'counter')))
    doc = change(doc, (d) => addProposal(d, proposal('b2', B, '700')))
    const byId = new Map(docView(doc).proposals.map((p) => [p.proposalId, p]))
    expect(byId.get('b1')).toMatchObject({ status: 'superseded', closedBy: B })
    expect(byId.get('a1')?.status).toBe('open')
    expect(byId.get('b2')?.status).toBe('open')
    expect(() => change(doc, (d) => acceptProposal(d, 'b1', A, at))).toThrow(/no longer open/)
    expect(docView(doc).terms.note).toBe('settle monthly')
  })

  it('the proposer withdraws, the other party declines; neither moves the terms; wrong parties are refused', () => {
    let doc = change(start(), (d) => addProposal(d, proposal('b1', B, 'net 60')))
    expect(() => change(doc, (d) => closeProposal(d, 'b1', A, at, 'withdrawn'))).toThrow(/only its proposer/)
    expect(() => change(doc, (d) => closeProposal(d, 'b1', B, at, 'declined'))).toThrow(/own proposal/)
    expect(() => change(doc, (d) => closeProposal(d, 'b1', C, at, 'declined'))).toThrow(/only a party/)
    expect(() => change(doc, (d) => closeProposal(d, 'nope', A, at, 'declined'))).toThrow(/no such proposal/)
    const declined = change(doc, (d) => closeProposal(d, 'b1', A, at, 'declined'))
    expect(docView(declined).proposals[0]).toMatchObject({ status: 'declined', closedBy: A })
    expect(() => change(declined, (d) => acceptProposal(d, 'b1', A, at))).toThrow(/no longer open/)
    expect(() => change(declined, (d) => closeProposal(d, 'b1', B, at, 'withdrawn'))).toThrow(
      /no longer open/
    )
    doc = change(declined, (d) => addProposal(d, proposal('b2', B, 'net 45')))
    const withdrawn = change(doc, (d) => closeProposal(d, 'b2', B, at, 'withdrawn'))
    expect(docView(withdrawn).proposals.find((p) => p.proposalId === 'b2')?.status).toBe('withdrawn')
    expect(docView(withdrawn).terms.note).toBe('settle monthly')
    expect(docView(withdrawn).log.map((e) => e.kind)).toEqual([
      'created',
      'proposed',
      'declined',
      'proposed',
      'withdrawn'
    ])
  })

  it('a counterparty’s out-of-shape proposals and log entries are left out of the view, not a crash', () => {
    const doc = change(start(), (d) => {
      const raw = d as unknown as { proposals: Record<string, unknown>; log: unknown[] }
      raw.proposals['x1'] = { proposalId: 'x1', by: B, at: 12345, terms: {}, status: 'open' }
      raw.proposals['x2'] = 'not a proposal'
      raw.log.push({ at: null, by: B, kind: 'proposed' })
    })
    const withGood = change(doc, (d) => addProposal(d, proposal('b1', B, 'fine')))
    const view = docView(withGood)
    expect(view.proposals.map((p) => p.proposalId)).toEqual(['b1'])
    expect(view.log.every((e) => typeof e.at === 'string')).toBe(true)
  })
})

describe('proposals per party', () => {
  it('each party may make half of what a tally keeps: a customer cannot use up the merchant’s share', () => {
    let doc = start()
    for (let i = 0; i < MAX_PROPOSALS_PER_PARTY; i++)
      doc = change(doc, (d) => addProposal(d, proposal(`b${i}`, B, `n${i}`)))
    expect(() => change(doc, (d) => addProposal(d, proposal('b-more', B, 'more')))).toThrow(
      expect.objectContaining({
        name: 'ProposalError',
        message: expect.stringContaining('the most one party may')
      })
    )
    // the other party's share is whole
    doc = change(doc, (d) => addProposal(d, proposal('a1', A, 'counter')))
    expect(docView(doc).proposals).toHaveLength(MAX_PROPOSALS_PER_PARTY + 1)
    // and a counterparty that writes one more anyway is refused
    const more = change(clone(doc), (d) => {
      d.proposals['b-more'] = scalars(proposal('b-more', B, 'more')) as never
      d.log.push(scalars({ at, by: B, kind: 'proposed', proposalId: 'b-more' }) as never)
    })
    expect(vetChanges(doc, getChanges(doc, more), B)).toMatchObject({
      ok: false,
      reason: 'it makes more proposals than one party may'
    })
  })
})
