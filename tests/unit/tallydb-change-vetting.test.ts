/**
 * What a counterparty may write into the shared document: every honest negotiation step passes (as its
 * author saw the document, also when the two parties wrote at once); a change in this node's name,
 * outside the steps, or too large is refused before our replica takes it.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  Counter,
  Float64,
  splice,
  ImmutableString,
  applyChanges,
  change,
  clone,
  decodeChange,
  encodeChange,
  from,
  generateSyncMessage,
  getAllChanges,
  getChanges,
  init,
  initSyncState,
  load,
  merge,
  receiveSyncMessage,
  save
} from '@automerge/automerge'
import type { Doc } from '@automerge/automerge'
import { newDocumentBytes } from '../helpers/legacy-document.ts'
import { VET_LIMITS, syncMessageChanges, vetChanges, vetDocument } from '../../main/tallydb/change-vetting.ts'
import {
  MAX_PROPOSALS,
  acceptProposal,
  addProposal,
  applyStandingTerms,
  closeProposal,
  initialDoc,
  scalars,
  written
} from '../../main/tallydb/tally-document.ts'
import { confirmAcceptance } from '../../main/tallydb/agreement-steps.ts'
import { docView } from '../../main/tallydb/doc-view.ts'
import type { StoredTallyDoc, StringForm, TermsProposal } from '../../main/tallydb/tally-document.ts'
import { A, B, at, draftTally } from '../helpers/tally-parties.ts'
import { MAX_ACCEPTANCES_PER_PROPOSAL } from '../../main/tallydb/acceptance-bounds.ts'

const tally = draftTally()

type D = Doc<StoredTallyDoc>

function start(form: StringForm = 'scalar'): D {
  return load<StoredTallyDoc>(newDocumentBytes(tally, { note: 'settle monthly' }, A, at, form))
}

function proposal(proposalId: string, by: string, terms: TermsProposal['terms']): TermsProposal {
  return { proposalId, by, at, terms, status: 'open' }
}

/** What `author`'s replica sends after `fn`, vetted by the other replica `ours`. */
function step(
  ours: D,
  author: string,
  fn: (d: StoredTallyDoc) => void
): { vetted: ReturnType<typeof vetChanges>; theirs: D } {
  const theirs = change(clone(ours), fn)
  return { vetted: vetChanges(ours, getChanges(ours, theirs), author), theirs }
}

function refusal(v: ReturnType<typeof vetChanges>): string {
  return v.ok ? 'passed' : v.reason
}

describe('vetting the counterparty’s changes', () => {
  for (const form of ['scalar', 'text'] as const) {
    it(`passes every honest step (${form} strings): propose, accept, decline, withdraw, supersede, standing terms`, () => {
      let doc = start(form)
      const steps: Array<[string, (d: StoredTallyDoc) => void]> = [
        // the listener's standing terms come right after the document's creation (foil), or in it (stock)
        [A, (d) => applyStandingTerms(d, { foilCreditLimit: 20 }, A, at)],
        [B, (d) => addProposal(d, proposal('b1', B, { stockCreditLimit: 500 }))],
        [A, (d) => acceptProposal(d, 'b1', A, at)],
        // its proposer confirms (a document of text strings, made with an older peer, knows no confirmation)
        ...(form === 'scalar'
          ? [
              [B, (d: StoredTallyDoc) => confirmAcceptance(d, 'b1', B, at)] as [
                string,
                (d: StoredTallyDoc) => void
              ]
            ]
          : []),
        [A, (d) => addProposal(d, proposal('a1', A, { note: 'net 30' }))],
        [B, (d) => closeProposal(d, 'a1', B, at, 'declined')],
        [B, (d) => addProposal(d, proposal('b2', B, { unit: 'CHIP' }))],
        [B, (d) => addProposal(d, proposal('b3', B, { unit: 'USD' }))], // supersedes b2
        [B, (d) => closeProposal(d, 'b3', B, at, 'withdrawn')],
        // astral characters: Automerge writes one text operation per code point
        [B, (d) => addProposal(d, proposal('b4', B, { note: 'ok 😀👨‍👩‍👧‍👦 ab' }))]
      ]
      for (const [author, fn] of steps) {
        const { vetted, theirs } = step(doc, author, fn)
        expect(vetted).toEqual({ ok: true, fresh: 1 })
        doc = theirs
      }
      expect(doc.terms.stockCreditLimit).toBe(500)
    })
  }

  it('passes honest concurrent steps, each judged as its author saw the document', () => {
    const base = change(start(), (d) => addProposal(d, proposal('b1', B, { note: 'x' })))
    // A accepts b1 while B, not knowing yet, withdraws it and proposes again
    const ours = change(clone(base), (d) => acceptProposal(d, 'b1', A, at))
    let theirs = change(clone(base), (d) => closeProposal(d, 'b1', B, at, 'withdrawn'))
    theirs = change(theirs, (d) => addProposal(d, proposal('b2', B, { note: 'y' })))
    expect(vetChanges(ours, getChanges(base, theirs), B)).toEqual({ ok: true, fresh: 2 })
    // and what we already hold is not judged again (a relay of our own change)
    expect(vetChanges(ours, getChanges(base, merge(clone(theirs), ours)), B)).toEqual({ ok: true, fresh: 2 })
  })

  it('vets a sync message to a peer that holds nothing (the whole document in one chunk) as the author’s', () => {
    const ours = change(start(), (d) => addProposal(d, proposal('a1', A, { note: 'net 30' })))
    // A says what it has, the empty peer answers that it has nothing, A sends the document
    const [firstState, hello] = generateSyncMessage(ours, initSyncState())
    const [emptyDoc, emptyState] = receiveSyncMessage(init<StoredTallyDoc>(), initSyncState(), hello!)
    const [, answer] = generateSyncMessage(emptyDoc, emptyState)
    const [, ourState] = receiveSyncMessage(ours, firstState, answer!)
    const [, message] = generateSyncMessage(ours, ourState)
    const changes = syncMessageChanges(message!)!
    expect(changes).toHaveLength(1)
    expect(vetChanges(init(), changes, A)).toEqual({ ok: true, fresh: 2 })
    expect(refusal(vetChanges(init(), changes, B))).toMatch(/creation|this node's name/)
    expect(syncMessageChanges(new Uint8Array([9, 9, 9]))).toBeUndefined()
  })

  it('refuses a change in the other party’s name or outside the negotiation steps', () => {
    const doc = change(start(), (d) => {
      addProposal(d, proposal('b1', B, { stockCreditLimit: 900 }))
      addProposal(d, proposal('a1', A, { note: 'net 30' }))
    })
    const s = (v: string): ImmutableString => new ImmutableString(v)
    const forged: Array<[string, (d: StoredTallyDoc) => void, RegExp]> = [
      // B marks its own proposal accepted by A, with A's log entry and the terms it wanted
      [
        'accept in A’s name',
        (d) => {
          acceptProposal(d, 'b1', A, at)
        },
        /this node's name/
      ],
      [
        'accept its own',
        (d) =>
          void Object.assign(d.proposals.b1!, { status: s('accepted'), acceptedBy: s(B), acceptedAt: s(at) }),
        /own proposal/
      ],
      [
        'accept without awaiting confirmation (the old rule, under which it could take it back)',
        (d) => {
          Object.assign(d.proposals.a1!, {
            status: s('accepted'),
            acceptedBy: s(B),
            acceptedAt: s(at),
            replaced: { note: s('settle monthly') }
          })
          d.terms.note = s('net 30')
          d.log.push(scalars({ at, by: B, kind: 'accepted' as const, proposalId: 'a1' }))
        },
        /awaiting the proposer/
      ],
      [
        'terms without a proposal',
        (d) => void (d.terms.note = s('no limits')),
        /without an accepted proposal/
      ],
      [
        'standing terms set by the dialer (only the listener states them)',
        (d) => applyStandingTerms(d, { stockCreditLimit: 1e9 }, B, at),
        /only the listener/
      ],
      ['withdraw A’s proposal', (d) => closeProposal(d, 'a1', A, at, 'withdrawn'), /this node's name/],
      ['propose as A', (d) => addProposal(d, proposal('x1', A, { note: 'A says' })), /this node's name/],
      [
        'log in A’s name',
        (d) => void d.log.push({ at: s(at), by: s(A), kind: s('accepted') }),
        /this node's name/
      ],
      [
        'a log entry alone',
        (d) => void d.log.push({ at: s(at), by: s(B), kind: s('accepted'), proposalId: s('a1') }),
        /do not match/
      ],
      ['delete a proposal', (d) => void delete d.proposals.a1, /deletes a proposal/],
      ['rewrite the tally', (d) => void (d.tally.respondentPeerId = s(B)), /draft tally/],
      ['rewrite the log', (d) => void (d.log[0]!.by = s(B)), /rewrites the negotiation log/],
      [
        'a field of its own',
        (d) => void ((d as unknown as Record<string, unknown>).junk = s('x'.repeat(10))),
        /adds a field/
      ],
      [
        'change a proposal',
        (d) => void (d.proposals.a1!.terms.note = s('net 90')),
        /changes what a proposal proposed/
      ],
      [
        'a counter as a term (its increments merge by adding)',
        (d) => {
          ;(d.terms as Record<string, unknown>).foilCreditLimit = new Counter(10)
          d.log.push(scalars({ at, by: B, kind: 'terms-set' as const }))
        },
        /counter/
      ],
      [
        'the terms map made anew with the same JSON (a concurrent write inside the old one would vanish)',
        (d) => {
          d.terms = scalars({ note: 'settle monthly' }) as typeof d.terms
          addProposal(d, proposal('b8', B, { note: 'z' }))
        },
        /replaces a whole map/
      ],
      [
        'terms out of bounds',
        (d) => addProposal(d, proposal('b9', B, { stockCreditLimit: -1 } as never)),
        /out of bounds/
      ]
    ]
    for (const [what, fn, reason] of forged) {
      let vetted: ReturnType<typeof vetChanges>
      try {
        vetted = step(doc, B, fn).vetted
      } catch (err) {
        throw new Error(`${what}: ${String(err)}`)
      }
      expect(refusal(vetted), what).toMatch(reason)
      expect(vetted.ok === false && vetted.retry, what).toBe(false)
    }
  })

  it('refuses standing terms the listener sets once negotiation began (an unset term would be its to set at will)', () => {
    const doc = change(start(), (d) => addProposal(d, proposal('b1', B, { note: 'weekly' })))
    const late = step(doc, A, (d) => applyStandingTerms(d, { foilCreditLimit: 1e15 }, A, at))
    expect(refusal(late.vetted)).toMatch(/after negotiation began/)
  })

  it('refuses a write of a value it already has under another type, beside a valid step (an eighth review)', () => {
    const doc = change(start(), (d) => {
      d.terms.stockCreditLimit = 1000
    })
    const beside = (extra: (d: StoredTallyDoc) => void) => (d: StoredTallyDoc) => {
      addProposal(d, proposal('b9', B, { note: 'weekly' }))
      extra(d)
    }
    // the same number as a 64-bit float: it would stand as a write of no acceptance, and win a merge
    const float = step(
      doc,
      B,
      beside((d) => void ((d.terms as Record<string, unknown>).stockCreditLimit = new Float64(1000)))
    )
    expect(refusal(float.vetted)).toMatch(/writes terms.stockCreditLimit again/)
    // the schema tag as text: the document would read as made with an older peer (the old rule)
    const text = step(
      doc,
      B,
      beside((d) => void ((d as Record<string, unknown>).schema = 'taleus/tally/1'))
    )
    expect(refusal(text.vetted)).toMatch(/writes schema again/)
    const unit = step(
      doc,
      B,
      beside((d) => void (d.terms.note = 'settle monthly' as unknown as ImmutableString))
    )
    // (a string written as text: the scalar document's own rule refuses it before the rewrite is judged)
    expect(refusal(unit.vetted)).toMatch(/as text in a document of scalar strings/)
    // the control: the step alone passes
    expect(
      step(
        doc,
        B,
        beside(() => {})
      ).vetted
    ).toEqual({ ok: true, fresh: 1 })
  })

  it('refuses an acceptance that leaves its proposal’s terms out, and string edits in place (a ninth review)', () => {
    const doc = change(start(), (d) => addProposal(d, proposal('a1', A, { stockCreditLimit: 100 })))
    // every field an acceptance writes but the terms: it would be confirmed and read agreed, terms unchanged
    const noTerms = step(doc, B, (d) => {
      Object.assign(d.proposals.a1!, {
        status: new ImmutableString('accepted'),
        acceptedBy: new ImmutableString(B),
        acceptedAt: new ImmutableString(at),
        awaitsConfirmation: true,
        replaced: { stockCreditLimit: null }
      })
      d.log.push(scalars({ at, by: B, kind: 'accepted' as const, proposalId: 'a1' }))
    })
    expect(refusal(noTerms.vetted)).toMatch(/without taking its terms/)
    // a string as collaborative text in a document of scalar strings
    const text = step(doc, B, (d) => addProposal(d, { ...proposal('b1', B, {}), terms: { unit: 'EUR' } }))
    expect(text.vetted).toEqual({ ok: true, fresh: 1 })
    const asText = step(doc, B, (d) => {
      addProposal(d, proposal('b2', B, { note: 'x' }))
      ;(d.proposals.b2!.terms as Record<string, unknown>).unit = 'EUR'
    })
    expect(refusal(asText.vetted)).toMatch(/as text in a document of scalar strings/)
    // an empty one too (a tenth review: it showed as no splice at all), wherever it is put
    const emptyText = step(doc, B, (d) => {
      addProposal(d, proposal('b4', B, { stockCreditLimit: 5 }))
      ;(d.proposals.b4!.terms as Record<string, unknown>).note = ''
    })
    expect(refusal(emptyText.vetted)).toMatch(/as text in a document of scalar strings/)
    // in a document of text strings, an edit of the agreed note in place (forks of it merge to "10000")
    const old = change(start('text'), (d) => addProposal(d, proposal('a2', A, { note: 'deposit 100' })))
    const agreed = change(old, (d) => acceptProposal(d, 'a2', B, at))
    const edit = step(agreed, B, (d) => {
      addProposal(d, proposal('b3', B, { stockCreditLimit: 1 }))
      splice(d, ['terms', 'note'], 10, 1, '0')
    })
    expect(refusal(edit.vetted)).toMatch(/edits terms.note in place/)
  })

  it('refuses standing terms dated back to the creation once an acceptance exists (an eighth review)', () => {
    const created = start()
    let doc = change(clone(created), (d) => addProposal(d, proposal('b1', B, { note: 'agreed' })))
    doc = change(doc, (d) => acceptProposal(d, 'b1', A, at))
    const late = change(clone(created, { actor: 'a7'.repeat(16) }), (d) =>
      applyStandingTerms(d, { foilCreditLimit: 1e15 }, A, at)
    )
    const merged = merge(clone(doc), late)
    expect(refusal(vetChanges(doc, getChanges(doc, merged), A))).toMatch(/standing terms after an acceptance/)
  })

  it.each([
    ['acceptances', (d: StoredTallyDoc) => acceptProposal(d, 'b1', A, at)],
    ['declines', (d: StoredTallyDoc) => closeProposal(d, 'b1', A, at, 'declined')]
  ] as const)(
    `refuses more than ${MAX_ACCEPTANCES_PER_PROPOSAL} %s of one proposal side by side, each valid where it was made`,
    (_kind, stepOf) => {
      const open = change(start(), (d) => addProposal(d, proposal('b1', B, { stockCreditLimit: 10 })))
      const acceptances = (n: number): Uint8Array[] =>
        Array.from({ length: n }, (_, i) =>
          getChanges(open, change(clone(open, { actor: `${(i + 16).toString(16)}`.repeat(16) }), stepOf))
        ).flat()
      expect(vetChanges(open, acceptances(MAX_ACCEPTANCES_PER_PROPOSAL), A)).toMatchObject({ ok: true })
      expect(refusal(vetChanges(open, acceptances(MAX_ACCEPTANCES_PER_PROPOSAL + 1), A))).toMatch(
        /more than 4 steps on proposal/
      )
    }
  )

  it('refuses a change whose operation counter is inflated (it would win every conflict)', () => {
    const base = change(start(), (d) => addProposal(d, proposal('a1', A, { stockCreditLimit: 900 })))
    const ours = change(clone(base), (d) => closeProposal(d, 'a1', A, at, 'withdrawn'))
    // B's stale write over A's withdrawal: scalars only, so the engine applies it whatever its counter
    const theirs = change(clone(base), (d) => {
      const p = d.proposals.a1!
      p.status = new ImmutableString('accepted')
      p.acceptedBy = new ImmutableString(B)
      p.acceptedAt = new ImmutableString(at)
      p.awaitsConfirmation = true
    })
    const [honest] = getChanges(base, theirs)
    const decoded = decodeChange(honest!)
    expect(refusal(vetChanges(ours, [honest!], B))).toMatch(/misstates the terms|log entries do not match/)
    const inflated = encodeChange({ ...decoded, startOp: decoded.startOp + 1000 })
    expect(refusal(vetChanges(ours, [inflated], B))).toMatch(/operation counter/)
    // and it would have won: the engine takes it over A's later withdrawal
    const [won] = applyChanges(clone(ours), [inflated])
    expect(String(won.proposals.a1!.status)).toBe('accepted')
  })

  it('refuses operations on what its author had not seen (they act only once merged), and a second creation', () => {
    const created = start()
    // A proposes later; B's change depends only on the creation, and carries one more operation: on the
    // terms of A's later proposal, which B had not seen (an outside reviewer's attack: 400 became 1e15)
    const ours = change(clone(created), (d) => addProposal(d, proposal('a1', A, { stockCreditLimit: 400 })))
    const [aChange] = getChanges(created, ours)
    const a = decodeChange(aChange!)
    const limitAt = a.ops.findIndex((o) => 'key' in o && o.key === 'stockCreditLimit')
    const limitOp = a.ops[limitAt]!
    const theirs = change(clone(created), (d) => addProposal(d, proposal('b1', B, { note: 'net 45' })))
    const [bChange] = getChanges(created, theirs)
    const b = decodeChange(bChange!)
    expect(vetChanges(ours, [bChange!], B)).toEqual({ ok: true, fresh: 1 })
    const hidden = encodeChange({
      ...b,
      ops: [
        ...b.ops,
        {
          action: 'set',
          obj: limitOp.obj,
          key: 'stockCreditLimit',
          value: 1e15,
          datatype: 'int',
          pred: [`${a.startOp + limitAt}@${a.actor}`]
        }
      ]
    } as Parameters<typeof encodeChange>[0])
    expect(refusal(vetChanges(ours, [hidden], B))).toMatch(/had not seen/)
    // what it would have done: A's own proposal rewritten once merged
    const [merged] = applyChanges(clone(ours), [hidden])
    expect(merged.proposals.a1!.terms.stockCreditLimit).toBe(1e15)

    // a change that depends on nothing, on a document that exists: a rival creation
    const rival = from(initialDoc(tally, { stockCreditLimit: 1e15 }, B, at), { actor: 'ff'.repeat(16) })
    expect(refusal(vetChanges(ours, getAllChanges(rival), B))).toMatch(/second creation/)
  })

  for (const how of ['withdrawn', 'superseded'] as const)
    it(`an acceptance that crossed its proposer's ${how === 'withdrawn' ? 'withdrawal' : 'newer proposal'}: the close wins, alike on both sides`, () => {
      const base = change(start(), (d) => {
        d.terms.stockCreditLimit = 500
        addProposal(d, proposal('a1', A, { stockCreditLimit: 900, unit: 'CHIP' }))
      })
      // A closes a1 while B, not knowing yet, accepts it: each passes as its author saw the document
      const ours = change(clone(base), (d) =>
        how === 'withdrawn'
          ? closeProposal(d, 'a1', A, at, 'withdrawn')
          : addProposal(d, proposal('a2', A, { note: 'instead' }))
      )
      const theirs = change(clone(base), (d) => acceptProposal(d, 'a1', B, at))
      expect(vetChanges(ours, getChanges(base, theirs), B)).toEqual({ ok: true, fresh: 1 })
      expect(vetChanges(theirs, getChanges(base, ours), A)).toEqual({ ok: true, fresh: 1 })
      const atA = docView(merge(clone(ours), theirs))
      const atB = docView(merge(clone(theirs), ours))
      expect(atA).toEqual(atB)
      expect(atA.terms).toEqual({ note: 'settle monthly', stockCreditLimit: 500 })
      expect(atA.proposals.find((p) => p.proposalId === 'a1')?.status).toBe(how)
    })

  it('refuses an acceptance that misstates or leaves out the values it replaces (a document of 1.2.0 peers)', () => {
    const doc = change(start(), (d) => addProposal(d, proposal('a1', A, { stockCreditLimit: 900 })))
    // an acceptance written by hand, as acceptProposal does, with `replaced` as given
    const acceptWith = (replaced: Record<string, unknown> | undefined) => (d: StoredTallyDoc) => {
      const p = d.proposals.a1!
      p.status = new ImmutableString('accepted')
      p.acceptedBy = new ImmutableString(B)
      p.acceptedAt = new ImmutableString(at)
      p.awaitsConfirmation = true
      if (replaced !== undefined) (p as Record<string, unknown>).replaced = replaced
      d.terms.stockCreditLimit = 900
      d.log.push(scalars({ at, by: B, kind: 'accepted' as const, proposalId: 'a1' }))
    }
    expect(step(doc, B, acceptWith({ stockCreditLimit: null })).vetted).toEqual({ ok: true, fresh: 1 })
    // it was unset: a lie would let a crossed acceptance be undone to a value no one set
    expect(refusal(step(doc, B, acceptWith({ stockCreditLimit: 0 })).vetted)).toMatch(/misstates the terms/)
    expect(refusal(step(doc, B, acceptWith(undefined)).vetted)).toMatch(/misstates the terms/)
  })

  it('refuses standing terms backdated to before terms were set, and proposals past the bound once merged', () => {
    const created = start()
    // A (the listener) set its standing terms; then a change of A's made from the creation sets another
    // value for the same term: unset as its author saw it, set in the document this node holds
    const ours = change(clone(created), (d) => applyStandingTerms(d, { foilCreditLimit: 100 }, A, at))
    const backdated = change(clone(created), (d) => applyStandingTerms(d, { foilCreditLimit: 1e15 }, A, at))
    expect(refusal(vetChanges(ours, getChanges(created, backdated), A))).toMatch(/set already/)
    // side by side from the creation, each under the bound; together past it
    const many = Array.from(
      { length: 3 },
      (_, i) =>
        getChanges(
          created,
          change(clone(created), (d) => addProposal(d, proposal(`b${i}`, B, { note: `${i}` })))
        )[0]!
    )
    expect(vetChanges(created, many, B)).toEqual({ ok: true, fresh: 3 })
    const crowded = change(clone(created), (d) => {
      for (let i = 0; i < MAX_PROPOSALS - 2; i++)
        d.proposals[`x${i}`] = scalars({
          ...proposal(`x${i}`, A, { note: 'n' }),
          status: 'withdrawn' as const,
          closedBy: A,
          closedAt: at
        })
    })
    expect(refusal(vetChanges(crowded, many, B))).toMatch(/once merged/)
  })

  it('measures a whole message before loading or decoding any of it (an outside reviewer held a merchant 101 s)', () => {
    const doc = start('text')
    const noted = change(clone(doc), (d) => addProposal(d, proposal('b1', B, { note: 'n'.repeat(2000) })))
    const [big] = getChanges(doc, noted)
    // copies of a change this node holds count too: 600 of them are refused unread
    expect(refusal(vetChanges(noted, Array(600).fill(big!), B))).toMatch(/more than 128 changes/)
    // 100 copies of a 2000-operation change: more operations in all than a whole document may hold
    expect(refusal(vetChanges(noted, Array(100).fill(big!), B))).toMatch(/operations at once/)
    const whole = save(noted)
    expect(refusal(vetChanges(doc, [whole, whole], B))).toMatch(/more than one whole document/)
    expect(vetChanges(doc, [whole], B)).toMatchObject({ ok: true })
  })

  it('refuses a closed proposal reopened, and a change that changes nothing', () => {
    let doc = change(start(), (d) => addProposal(d, proposal('a1', A, { note: 'net 30' })))
    doc = change(doc, (d) => closeProposal(d, 'a1', B, at, 'declined'))
    expect(
      refusal(step(doc, B, (d) => void (d.proposals.a1!.status = new ImmutableString('open'))).vetted)
    ).toMatch(/closed proposal/)
    // written and written back in one change: history grows, nothing shows
    const noop = step(doc, B, (d) => {
      d.terms.note = new ImmutableString('net 90')
      d.terms.note = new ImmutableString('settle monthly')
    })
    expect(refusal(noop.vetted)).toMatch(/do not show in what it changes/)
  })

  it('refuses changes too large for one step and a document past its bound; asks again for missing dependencies', () => {
    const doc = start('text')
    const big = step(doc, B, (d) => addProposal(d, proposal('b1', B, { note: 'n'.repeat(2000) })))
    expect(big.vetted.ok).toBe(true)
    // hidden operations: text typed and deleted in the same change leaves a valid note and a long history
    const hidden = step(doc, B, (d) => {
      addProposal(d, proposal('b1', B, { note: 'n' }))
      for (let i = 0; i < 5000; i++)
        d.log.push({
          at: new ImmutableString(at),
          by: new ImmutableString(B),
          kind: new ImmutableString('proposed')
        })
      d.log.splice(2, 5000)
    })
    expect(refusal(hidden.vetted)).toMatch(/operations|bytes/)
    expect(
      refusal(vetChanges(doc, getChanges(doc, big.theirs), B, { ...VET_LIMITS, maxHistoryBytes: 1000 }))
    ).toMatch(/grow to \d+ bytes/)
    const two = change(big.theirs, (d) => closeProposal(d, 'b1', B, at, 'withdrawn'))
    const onlyLast = getChanges(big.theirs, two)
    expect(vetChanges(doc, onlyLast, B)).toMatchObject({ ok: false, retry: true })
  })

  for (const form of ['scalar', 'text'] as const) {
    it(`a tally of the largest honest agreements (${form} strings) stays inside the document bounds`, () => {
      // each proposal its own change, then its acceptance (which copies the terms into the terms and into
      // `replaced`) and, where the document knows it, the confirmation: as honest parties write them
      let doc = start(form)
      for (let i = 0; i < MAX_PROPOSALS; i++) {
        const by = i % 2 ? A : B
        const other = i % 2 ? B : A
        const p = proposal(`${String(i).padStart(4, '0')}-${'x'.repeat(31)}`, by, {
          // random, so the change's columns do not compress away
          note: randomBytes(1500).toString('base64').slice(0, 2000),
          unit: randomBytes(24).toString('base64'),
          stockCreditLimit: 1e15 - i,
          foilCreditLimit: 1e15 - i
        })
        doc = change(doc, (d) => {
          d.proposals[p.proposalId] = written(p, form)
          d.log.push(written({ at, by, kind: 'proposed' as const, proposalId: p.proposalId }, form))
        })
        doc = change(doc, (d) => acceptProposal(d, p.proposalId, other, at))
        if (form === 'scalar') doc = change(doc, (d) => confirmAcceptance(d, p.proposalId, by, at))
      }
      const history = getAllChanges(doc).reduce((n, c) => n + c.byteLength, 0)
      expect(history).toBeGreaterThan(1_000_000)
      expect(history).toBeLessThan(VET_LIMITS.maxHistoryBytes)
      expect(save(doc).byteLength).toBeLessThan(VET_LIMITS.maxDocumentBytes)
    }, 60_000)
  }

  it('refuses more changes in one message than a full document’s steps, and a proposal past the most one tally keeps', () => {
    const before = start()
    let doc = clone(before)
    for (let i = 0; i < 4; i++)
      doc = change(doc, (d) => addProposal(d, proposal(`b${i}`, B, { note: `${i}` })))
    const four = getChanges(before, doc)
    expect(vetChanges(before, four, B)).toEqual({ ok: true, fresh: 4 })
    expect(refusal(vetChanges(before, four, B, { ...VET_LIMITS, maxFreshChanges: 3 }))).toMatch(
      /more than 3 changes/
    )
    const full = change(start(), (d) => {
      for (let i = 0; i < MAX_PROPOSALS; i++)
        d.proposals[`p${i}`] = scalars({
          ...proposal(`p${i}`, A, { note: 'n' }),
          status: 'withdrawn' as const,
          closedBy: A,
          closedAt: at
        })
    })
    expect(() => change(full, (d) => addProposal(d, proposal('one-more', B, { note: 'x' })))).toThrow(
      /the most one tally keeps/
    )
    const forced = change(clone(full), (d) => {
      d.proposals['one-more'] = scalars(proposal('one-more', B, { note: 'x' }))
      d.log.push(scalars({ at, by: B, kind: 'proposed' as const, proposalId: 'one-more' }))
    })
    expect(refusal(vetChanges(full, getChanges(full, forced), B))).toMatch(/too many proposals/)
  })

  it('vets a handed-over document as its provisioner’s: its creation passes, anything it wrote for the other party does not', () => {
    const bytes = newDocumentBytes(tally, { unit: 'CHIP' }, A, at)
    expect(vetDocument(bytes, A)).toEqual({ ok: true, fresh: 1 })
    expect(refusal(vetDocument(bytes, B))).toMatch(/creation/)
    const stuffed = change(load<StoredTallyDoc>(bytes), (d) => {
      addProposal(d, proposal('b1', B, { stockCreditLimit: 1e9 }))
    })
    const withForgery = change(stuffed, (d) => acceptProposal(d, 'b1', A, at))
    const all = Buffer.concat(getAllChanges(withForgery))
    expect(refusal(vetDocument(all, A))).toMatch(/this node's name/)
    expect(refusal(vetDocument(new Uint8Array([1, 2, 3]), A))).toMatch(/does not load|not an Automerge chunk/)
  })
})
