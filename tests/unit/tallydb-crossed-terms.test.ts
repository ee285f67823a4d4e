/**
 * A fourth outside review: the terms after an acceptance that crossed its proposer's newer proposal, and
 * steps that are valid as their author saw the document but not against the document this node holds.
 * - a customer reverted the agreed limit (100) to an old one (500) with a backdated acceptance of the
 *   superseded offer, winning the merge by its operation counters;
 * - honest: a crossed acceptance, then the real one of the same value: the view read 500, not 300;
 * - a backdated proposal under the id of one accepted since reopened it at 1e15;
 * - a backdated acceptance of a proposal its author had declined.
 */
import { describe, expect, it } from 'vitest'
import {
  applyChanges,
  change,
  clone,
  decodeChange,
  from,
  getChanges,
  getHeads,
  hasHeads,
  view
} from '@automerge/automerge'
import type { Doc } from '@automerge/automerge'
import { vetChanges } from '../../main/tallydb/change-vetting.ts'
import {
  acceptProposal,
  addProposal,
  closeProposal,
  initialDoc,
  scalars
} from '../../main/tallydb/tally-document.ts'
import {
  acceptanceStepsDue,
  acceptancesToConfirm,
  confirmAcceptance,
  retractAcceptance
} from '../../main/tallydb/agreement-steps.ts'
import { docView } from '../../main/tallydb/doc-view.ts'
import type { StoredTallyDoc, TermsProposal } from '../../main/tallydb/tally-document.ts'
import { A, B, at } from '../helpers/tally-parties.ts'

type D = Doc<StoredTallyDoc>
// A (the merchant) is the respondent and made the document
const tally = {
  tallyId: 't-1',
  createdAt: at,
  createdBy: 'stock' as const,
  initiatorPeerId: B,
  respondentPeerId: A
}
const MERCHANT = { actor: '77'.repeat(16) }

function offer(id: string, by: string, terms: TermsProposal['terms']): TermsProposal {
  return { proposalId: id, by, at, terms, status: 'open' }
}

function start(): D {
  return from(initialDoc(tally, { stockCreditLimit: 500, unit: 'CHIP' }, A, at) as never, MERCHANT) as D
}

/** What `theirs` holds that `ours` does not. */
function news(ours: D, theirs: D): Uint8Array[] {
  return getChanges(clone(ours), theirs).filter((c) => !hasHeads(ours, [decodeChange(c).hash!]))
}

/** What a party's node does on holding acceptances of its proposals: confirm each. */
function confirmDue(doc: D, by: string): D {
  for (const id of acceptancesToConfirm(doc, by)) doc = change(doc, (d) => confirmAcceptance(d, id, by, at))
  return doc
}

function takeFrom(ours: D, theirs: D): D {
  const changes = news(ours, theirs)
  const vetted = vetChanges(ours, changes, B)
  if (!vetted.ok) throw new Error(vetted.reason)
  return applyChanges(ours, changes)[0]
}

describe('terms around a crossed acceptance', () => {
  it('a backdated acceptance of a superseded offer does not undo the limit both agreed since', () => {
    let m = change(start(), (d) => addProposal(d, offer('P1', A, { stockCreditLimit: 300 })))
    const fork = getHeads(m)
    m = change(m, (d) => addProposal(d, offer('P2', A, { stockCreditLimit: 100, note: 'final offer' })))
    let c = clone(m, { actor: 'aa'.repeat(16) })
    c = change(c, (d) => acceptProposal(d, 'P2', B, at))
    m = confirmDue(takeFrom(m, c), A)
    expect(docView(m).terms.stockCreditLimit).toBe(100)
    // the attack: from where P1 was open, own proposals to raise the counters, then accept P1
    let f = clone(view(m, fork), { actor: 'ff'.repeat(16) }) as D
    for (let i = 0; i < 5; i++) f = change(f, (d) => addProposal(d, offer(`R${i}`, B, { note: `r${i}` })))
    f = change(f, (d) => acceptProposal(d, 'P1', B, at))
    const forged = getChanges(view(m, fork) as D, f)
    const vetted = vetChanges(m, forged, B)
    // taken (an acceptance made while P1 was open is a step), but it does not count
    if (vetted.ok) m = applyChanges(m, forged)[0]
    const read = docView(m)
    expect(read.terms.stockCreditLimit).toBe(100)
    expect(read.proposals.find((p) => p.proposalId === 'P1')?.status).toBe('superseded')
    expect(read.proposals.find((p) => p.proposalId === 'P2')?.status).toBe('accepted')
  })

  it('honest: an acceptance that crossed a newer offer of the same value, then the newer one accepted, reads as agreed', () => {
    let m = change(start(), (d) => addProposal(d, offer('P1', A, { stockCreditLimit: 300 })))
    let c = clone(m, { actor: 'aa'.repeat(16) })
    c = change(c, (d) => acceptProposal(d, 'P1', B, at))
    m = change(m, (d) => addProposal(d, offer('P2', A, { stockCreditLimit: 300 })))
    m = takeFrom(m, c)
    c = applyChanges(c, news(c, m))[0]
    expect(docView(m).terms.stockCreditLimit).toBe(500)
    expect(docView(c).terms).toEqual(docView(m).terms)
    c = change(c, (d) => acceptProposal(d, 'P2', B, at))
    m = takeFrom(m, c)
    expect(docView(m).proposals.find((p) => p.proposalId === 'P2')?.status).toBe('awaiting-confirmation')
    expect(docView(m).terms.stockCreditLimit).toBe(500)
    m = confirmDue(m, A)
    expect(docView(m).terms.stockCreditLimit).toBe(300)
    expect(docView(m).proposals.find((p) => p.proposalId === 'P2')?.status).toBe('accepted')
  })

  it('two crossed acceptances in a chain: neither counts (the second had recorded the first’s value as replaced)', () => {
    let m = change(start(), (d) => addProposal(d, offer('P1', A, { stockCreditLimit: 900 })))
    const h1 = getHeads(m)
    m = change(m, (d) => addProposal(d, offer('P2', A, { stockCreditLimit: 300 })))
    const h2 = getHeads(m)
    // the customer, offline, accepts P1; then gets P2 only and accepts it; the merchant meanwhile offers P3
    let c = clone(view(m, h1), { actor: 'aa'.repeat(16) }) as D
    c = change(c, (d) => acceptProposal(d, 'P1', B, at))
    c = applyChanges(c, getChanges(view(m, h1) as D, view(m, h2) as D))[0]
    c = change(c, (d) => acceptProposal(d, 'P2', B, at))
    m = change(m, (d) => addProposal(d, offer('P3', A, { stockCreditLimit: 200 })))
    m = takeFrom(m, c)
    c = applyChanges(c, news(c, m))[0]
    for (const side of [m, c]) expect(docView(side).terms.stockCreditLimit).toBe(500)
  })

  it('two acceptances of one withdrawn offer in one message, from before and after an agreement: the agreement stands', () => {
    let m = change(start(), (d) => addProposal(d, offer('P1', A, { stockCreditLimit: 700 })))
    const s1 = getHeads(m)
    let c = clone(m, { actor: 'aa'.repeat(16) })
    c = change(c, (d) => addProposal(d, offer('Q', B, { stockCreditLimit: 600 })))
    m = takeFrom(m, c)
    m = change(m, (d) => acceptProposal(d, 'Q', A, at))
    c = confirmDue(applyChanges(c, news(c, m))[0], B)
    m = takeFrom(m, c)
    expect(docView(m).terms.stockCreditLimit).toBe(600)
    const s2 = getHeads(m)
    m = change(m, (d) => closeProposal(d, 'P1', A, at, 'withdrawn'))
    let f1 = clone(view(m, s1), { actor: 'f1'.repeat(16) }) as D
    for (let i = 0; i < 20; i++) f1 = change(f1, (d) => addProposal(d, offer(`R${i}`, B, { note: `r${i}` })))
    f1 = change(f1, (d) => acceptProposal(d, 'P1', B, at))
    const f2 = change(clone(view(m, s2), { actor: 'f2'.repeat(16) }) as D, (d) =>
      acceptProposal(d, 'P1', B, at)
    )
    const message = [...getChanges(view(m, s1) as D, f1), ...getChanges(view(m, s2) as D, f2)]
    const vetted = vetChanges(m, message, B)
    if (vetted.ok) m = applyChanges(m, message)[0]
    expect(docView(m).terms.stockCreditLimit).toBe(600)
  })

  it('a crossed acceptance alone: the terms read as before it, on both sides', () => {
    let m = change(start(), (d) => addProposal(d, offer('P1', A, { stockCreditLimit: 300, unit: 'USD' })))
    let c = clone(m, { actor: 'aa'.repeat(16) })
    c = change(c, (d) => acceptProposal(d, 'P1', B, at))
    m = change(m, (d) => closeProposal(d, 'P1', A, at, 'withdrawn'))
    m = takeFrom(m, c)
    c = applyChanges(c, news(c, m))[0]
    for (const side of [m, c]) expect(docView(side).terms).toEqual({ stockCreditLimit: 500, unit: 'CHIP' })
  })
})

describe('steps that meet the document this node holds', () => {
  it('refuses a backdated proposal under the id of a proposal accepted since (it reopened it at 1e15)', () => {
    let m = start()
    const fork = getHeads(m)
    let c = clone(m, { actor: 'aa'.repeat(16) })
    c = change(c, (d) => addProposal(d, offer('Y', B, { note: 'weekly' })))
    m = takeFrom(m, c)
    m = change(m, (d) => acceptProposal(d, 'Y', A, at))
    // from before Y existed, a second actor of the customer proposes Y anew
    let f = clone(view(m, fork), { actor: 'ff'.repeat(16) }) as D
    f = change(f, (d) => addProposal(d, offer('Y', B, { stockCreditLimit: 1e15 })))
    const vetted = vetChanges(m, getChanges(view(m, fork) as D, f), B)
    expect(vetted).toMatchObject({ ok: false, reason: 'it proposes under the id of a proposal made since' })
  })

  it('an acceptance of an offer its author had declined, made before the decline arrived: taken, the decline counts', () => {
    let m = change(start(), (d) => addProposal(d, offer('P', A, { stockCreditLimit: 1000 })))
    const fork = getHeads(m)
    let c = clone(m, { actor: 'aa'.repeat(16) })
    c = change(c, (d) => closeProposal(d, 'P', B, at, 'declined'))
    m = takeFrom(m, c)
    let f = clone(view(m, fork), { actor: 'ff'.repeat(16) }) as D
    f = change(f, (d) => acceptProposal(d, 'P', B, at))
    const late = getChanges(view(m, fork) as D, f)
    expect(vetChanges(m, late, B)).toMatchObject({ ok: true })
    m = applyChanges(m, late)[0]
    const read = docView(m)
    expect(read.terms.stockCreditLimit).toBe(500)
    expect(read.proposals.find((p) => p.proposalId === 'P')?.status).toBe('declined')
  })

  it('two nodes of one party accept or decline one proposal at once: both taken, the same reading on each side', () => {
    for (const second of ['accepted', 'declined'] as const) {
      let m = start()
      let c = clone(m, { actor: 'aa'.repeat(16) })
      c = change(c, (d) => addProposal(d, offer('Q', B, { stockCreditLimit: 900 })))
      m = takeFrom(m, c)
      const node1 = change(clone(m, { actor: '71'.repeat(16) }), (d) => acceptProposal(d, 'Q', A, at))
      const node2 = change(clone(m, { actor: '72'.repeat(16) }), (d) =>
        second === 'accepted' ? acceptProposal(d, 'Q', A, at) : closeProposal(d, 'Q', A, at, 'declined')
      )
      for (const node of [node1, node2]) {
        const fresh = news(c, node)
        expect(vetChanges(c, fresh, A), second).toMatchObject({ ok: true })
        c = applyChanges(c, fresh)[0]
      }
      // the proposer confirms an acceptance it holds, unless it knows of a decline that crossed it
      c = confirmDue(c, B)
      let merchant = applyChanges(node1, news(node1, node2))[0]
      const confirmation = news(merchant, c)
      expect(vetChanges(merchant, confirmation, B), second).toMatchObject({ ok: true })
      merchant = applyChanges(merchant, confirmation)[0]
      expect(docView(c).terms, second).toEqual(docView(merchant).terms)
      expect(docView(c).terms.stockCreditLimit, second).toBe(second === 'accepted' ? 900 : 500)
    }
  })

  it('a withdrawal crossing an acceptance wins on both sides, however it was dated (protocol.md says so)', () => {
    let m = start()
    let c = clone(m, { actor: 'aa'.repeat(16) })
    c = change(c, (d) => addProposal(d, offer('Q', B, { foilCreditLimit: 1000 })))
    m = takeFrom(m, c)
    m = change(m, (d) => acceptProposal(d, 'Q', A, at))
    c = change(c, (d) => closeProposal(d, 'Q', B, at, 'withdrawn'))
    m = takeFrom(m, c)
    c = applyChanges(c, news(c, m))[0]
    for (const side of [m, c]) {
      expect(docView(side).terms.foilCreditLimit).toBeUndefined()
      expect(docView(side).proposals[0]?.status).toBe('withdrawn')
    }
  })

  it('refuses a change that makes two steps at once (its writes could not be told apart)', () => {
    // two nodes of the merchant offer at once: both offers open
    const base = start()
    const m1 = change(clone(base, { actor: '71'.repeat(16) }), (d) =>
      addProposal(d, offer('P1', A, { foilCreditLimit: 70 }))
    )
    const m2 = change(clone(base, { actor: '72'.repeat(16) }), (d) =>
      addProposal(d, offer('P2', A, { stockCreditLimit: 900 }))
    )
    const m = applyChanges(m1, news(m1, m2))[0]
    let c = clone(m, { actor: 'aa'.repeat(16) })
    c = change(c, (d) => {
      acceptProposal(d, 'P2', B, at)
      acceptProposal(d, 'P1', B, at)
    })
    expect(vetChanges(m, news(m, c), B)).toMatchObject({
      ok: false,
      reason: 'it makes more than one negotiation step at once'
    })
  })

  it('text strings: two crossed acceptances in a chain read the agreed unit, not a superseded offer', () => {
    let m = from(
      initialDoc(tally, { stockCreditLimit: 500, unit: 'CHIP' }, A, at, 'text') as never,
      MERCHANT
    ) as D
    m = change(m, (d) => addProposal(d, offer('P1', A, { unit: 'AAA' })))
    const h1 = getHeads(m)
    m = change(m, (d) => addProposal(d, offer('P2', A, { unit: 'BBB' })))
    const h2 = getHeads(m)
    let c = clone(view(m, h1), { actor: 'aa'.repeat(16) }) as D
    c = change(c, (d) => acceptProposal(d, 'P1', B, at))
    c = applyChanges(c, getChanges(view(m, h1) as D, view(m, h2) as D))[0]
    c = change(c, (d) => acceptProposal(d, 'P2', B, at))
    m = change(m, (d) => addProposal(d, offer('P3', A, { unit: 'CCC' })))
    m = takeFrom(m, c)
    c = applyChanges(c, news(c, m))[0]
    for (const side of [m, c]) expect(docView(side).terms.unit).toBe('CHIP')
  })
})

describe('an acceptance counts once its proposer confirms it', () => {
  /** The customer proposes Q; the merchant accepts it; the customer holds the acceptance. */
  function accepted(): { m: D; c: D; beforeAcceptance: ReturnType<typeof getHeads> } {
    let m = start()
    let c = clone(m, { actor: 'aa'.repeat(16) })
    c = change(c, (d) => addProposal(d, offer('Q', B, { foilCreditLimit: 1000 })))
    m = takeFrom(m, c)
    const beforeAcceptance = getHeads(m)
    m = change(m, (d) => acceptProposal(d, 'Q', A, at))
    c = applyChanges(c, news(c, m))[0]
    return { m, c, beforeAcceptance }
  }

  it('awaits confirmation on both sides until the proposer confirms; then it counts on both', () => {
    let { m, c } = accepted()
    for (const side of [m, c]) {
      expect(docView(side).proposals[0]?.status).toBe('awaiting-confirmation')
      expect(docView(side).terms.foilCreditLimit).toBeUndefined()
    }
    c = confirmDue(c, B)
    m = takeFrom(m, c)
    for (const side of [m, c]) {
      expect(docView(side).proposals[0]).toMatchObject({ status: 'accepted', confirmedAt: at })
      expect(docView(side).terms.foilCreditLimit).toBe(1000)
    }
    expect(docView(m).log.at(-1)).toMatchObject({ kind: 'confirmed', by: B, proposalId: 'Q' })
  })

  it.each([
    ['the proposer', 'withdrawn', B],
    ['the acceptor', 'declined', A]
  ] as const)(
    'a confirmed acceptance stands: %s cannot revoke it by closing the proposal with a change dated back before it',
    (_who, how, by) => {
      const { m: accepting, c: proposing, beforeAcceptance } = accepted()
      const c = confirmDue(proposing, B)
      const m = takeFrom(accepting, c)
      // a second actor of that party closes Q from where it was open: a crossing, as far as anyone can tell
      let f = clone(view(m, beforeAcceptance), { actor: 'ff'.repeat(16) }) as D
      f = change(f, (d) => closeProposal(d, 'Q', by, at, how))
      const late = getChanges(view(m, beforeAcceptance) as D, f)
      // an honest-looking step, taken by the other party
      expect(vetChanges(by === B ? m : c, late, by)).toMatchObject({ ok: true })
      for (const side of [applyChanges(m, late)[0], applyChanges(c, late)[0]]) {
        expect(docView(side).proposals[0]?.status).toBe('accepted')
        expect(docView(side).terms.foilCreditLimit).toBe(1000)
      }
    }
  )

  it('a withdrawal that crossed the acceptance before any confirmation wins: the merchant never read it agreed', () => {
    let m = start()
    let c = clone(m, { actor: 'aa'.repeat(16) })
    c = change(c, (d) => addProposal(d, offer('Q', B, { foilCreditLimit: 1000 })))
    m = takeFrom(m, c)
    m = change(m, (d) => acceptProposal(d, 'Q', A, at))
    expect(docView(m).proposals[0]?.status).toBe('awaiting-confirmation')
    // the customer withdraws before the acceptance reaches it, then hears of it: nothing to confirm
    c = change(c, (d) => closeProposal(d, 'Q', B, at, 'withdrawn'))
    c = applyChanges(c, news(c, m))[0]
    expect(acceptancesToConfirm(c, B)).toEqual([])
    m = takeFrom(m, c)
    for (const side of [m, c]) {
      expect(docView(side).proposals[0]?.status).toBe('withdrawn')
      expect(docView(side).terms.foilCreditLimit).toBeUndefined()
    }
  })

  it('refuses a confirmation by the accepting party, and one made knowing of a closing that crossed it', () => {
    const { m, c } = accepted()
    // the merchant confirms its own acceptance of the customer's proposal
    const forged = change(m, (d) => {
      d.proposals.Q!.confirmedAt = scalars(at)
      d.log.push(scalars({ at, by: A, kind: 'confirmed' as const, proposalId: 'Q' }))
    })
    expect(vetChanges(c, news(c, forged), A)).toMatchObject({
      ok: false,
      reason: "it confirms an acceptance in this node's name"
    })
    // the customer withdrew Q before hearing of the acceptance, then holds both and confirms anyway
    let m2 = start()
    let c2 = clone(m2, { actor: 'ab'.repeat(16) })
    c2 = change(c2, (d) => addProposal(d, offer('Q', B, { foilCreditLimit: 1000 })))
    m2 = takeFrom(m2, c2)
    m2 = change(m2, (d) => acceptProposal(d, 'Q', A, at))
    c2 = change(c2, (d) => closeProposal(d, 'Q', B, at, 'withdrawn'))
    c2 = applyChanges(c2, news(c2, m2))[0]
    c2 = change(c2, (d) => {
      d.proposals.Q!.confirmedAt = scalars(at)
      d.log.push(scalars({ at, by: B, kind: 'confirmed' as const, proposalId: 'Q' }))
    })
    expect(vetChanges(m2, news(m2, c2), B)).toMatchObject({ ok: false })
  })

  it('the acceptor retracts an acceptance its proposer’s closing crossed: a confirmation dated back later does not revive it', () => {
    // a seventh outside review: the proposer let a withdrawal dated back cross the acceptance, both read
    // it withdrawn, then any time later confirmed it from just after the acceptance: it counted again
    const base = accepted()
    let { m, c } = base
    const { beforeAcceptance } = base
    const afterAcceptance = getHeads(c)
    let w = clone(view(c, beforeAcceptance), { actor: 'b1'.repeat(16) }) as D
    w = change(w, (d) => closeProposal(d, 'Q', B, at, 'withdrawn'))
    const withdrawal = getChanges(view(c, beforeAcceptance) as D, w)
    c = applyChanges(c, withdrawal)[0]
    m = takeFrom(m, c)
    // the merchant's node, holding the crossing, retracts its acceptance; the customer takes that
    expect(acceptanceStepsDue(m, A)).toEqual([{ proposalId: 'Q', step: 'retract' }])
    m = change(m, (d) => retractAcceptance(d, 'Q', A, at))
    expect(acceptanceStepsDue(m, A)).toEqual([])
    const retraction = news(c, m)
    expect(vetChanges(c, retraction, A)).toMatchObject({ ok: true })
    c = applyChanges(c, retraction)[0]
    // the customer confirms from just after the acceptance, leaving its withdrawal and the retraction out
    let f = clone(view(c, afterAcceptance), { actor: 'b2'.repeat(16) }) as D
    f = change(f, (d) => confirmAcceptance(d, 'Q', B, at))
    const late = getChanges(view(c, afterAcceptance) as D, f)
    expect(vetChanges(m, late, B)).toMatchObject({ ok: true })
    for (const side of [applyChanges(m, late)[0], applyChanges(c, late)[0]]) {
      expect(docView(side).proposals[0]?.status).toBe('withdrawn')
      expect(docView(side).terms.foilCreditLimit).toBeUndefined()
    }
    // and a confirmation that knows of the retraction is refused outright
    const known = change(clone(c, { actor: 'b3'.repeat(16) }), (d) => {
      d.proposals.Q!.confirmedAt = scalars(at)
      d.log.push(scalars({ at, by: B, kind: 'confirmed' as const, proposalId: 'Q' }))
    })
    expect(vetChanges(m, news(m, known), B)).toMatchObject({ ok: false })
  })

  it('refuses a retraction of a confirmed acceptance, of one its proposer never closed, and by the proposer', () => {
    const { m, c } = accepted()
    const retractBy = (doc: D, by: string): D =>
      change(clone(doc), (d) => {
        d.proposals.Q!.retractedAt = scalars(at)
        d.log.push(scalars({ at, by, kind: 'retracted' as const, proposalId: 'Q' }))
      })
    // never closed
    expect(vetChanges(c, news(c, retractBy(m, A)), A)).toMatchObject({
      ok: false,
      reason: 'it retracts an acceptance its proposer did not close'
    })
    // confirmed, then retracted
    const confirmed = confirmDue(c, B)
    const m2 = takeFrom(m, confirmed)
    expect(vetChanges(confirmed, news(confirmed, retractBy(m2, A)), A)).toMatchObject({ ok: false })
    // by the proposer
    expect(vetChanges(m, news(m, retractBy(c, B)), B)).toMatchObject({
      ok: false,
      reason: "it retracts an acceptance in this node's name"
    })
  })

  it('a second acceptance of a confirmed proposal, dated back to win the merge, does not undo the agreement made since', () => {
    // a seventh outside review: Q (1000) agreed, then R (200) agreed; the merchant accepts Q again from
    // where it was open, its counters raised by own proposals: its write won the merge, 1000 read again
    const base = accepted()
    const { beforeAcceptance } = base
    let c = confirmDue(base.c, B)
    let m = takeFrom(base.m, c)
    c = change(c, (d) => addProposal(d, offer('R', B, { foilCreditLimit: 200 })))
    m = takeFrom(m, c)
    m = change(m, (d) => acceptProposal(d, 'R', A, at))
    c = confirmDue(applyChanges(c, news(c, m))[0], B)
    m = takeFrom(m, c)
    expect(docView(m).terms.foilCreditLimit).toBe(200)
    let f = clone(view(m, beforeAcceptance), { actor: 'fa'.repeat(16) }) as D
    for (let i = 0; i < 12; i++) f = change(f, (d) => addProposal(d, offer(`pad${i}`, A, { note: `p${i}` })))
    f = change(f, (d) => acceptProposal(d, 'Q', A, at))
    const forged = getChanges(view(m, beforeAcceptance) as D, f)
    const vetted = vetChanges(c, forged, A)
    if (vetted.ok) c = applyChanges(c, forged)[0]
    for (const side of [c, applyChanges(m, forged)[0]]) {
      expect(docView(side).terms.foilCreditLimit).toBe(200)
      expect(docView(side).proposals.find((p) => p.proposalId === 'R')?.status).toBe('accepted')
    }
  })
})
