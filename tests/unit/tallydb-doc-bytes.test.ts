/**
 * A tally document's bytes: the provisioner's document made on the engine loads as the initial document,
 * and the opener's check of handed-over bytes (whole Automerge chunks, checksums right) without the engine.
 */
import { describe, expect, it } from 'vitest'
import {
  change,
  decodeChange,
  from,
  getAllChanges,
  isImmutableString,
  load,
  save,
  saveSince
} from '@automerge/automerge'
import { PROTOCOL_ID, PROTOCOL_ID_V1_0, PROTOCOL_ID_V1_1 } from '../../main/bootstrap/types.ts'
import { docOf, isAutomergeChunks, isDocBetween } from '../../main/tallydb/doc-bytes.ts'
import { newDocumentBytes } from '../helpers/legacy-document.ts'
import {
  acceptProposal,
  addProposal,
  initialDoc,
  scalars,
  str,
  stringFormFor,
  stringFormOf
} from '../../main/tallydb/tally-document.ts'
import { confirmAcceptance } from '../../main/tallydb/agreement-steps.ts'
import { docView } from '../../main/tallydb/doc-view.ts'
import type { StoredTallyDoc } from '../../main/tallydb/tally-document.ts'
import { A, B, draftTally } from '../helpers/tally-parties.ts'

const tally = draftTally('6c1f3d0e-0b5a-4f51-9a59-1f6a0c2f8e11')
const terms = { unit: 'CHIP', stockCreditLimit: 500, note: 'net 30' }

describe('tally document bytes', () => {
  it('newDocumentBytes loads as the initial document, as from() would make it', () => {
    const bytes = newDocumentBytes(tally, terms, A, tally.createdAt)
    const expected = initialDoc(tally, terms, A, tally.createdAt)
    expect(JSON.parse(JSON.stringify(docOf(bytes)))).toEqual(JSON.parse(JSON.stringify(expected)))
    expect(saveSince(from(expected as unknown as Record<string, unknown>), []).length).toBe(bytes.length)
    expect(isDocBetween(docOf(bytes), tally.tallyId, A, B)).toBe(true)
    expect(isDocBetween(docOf(bytes), tally.tallyId, B, A)).toBe(true)
    expect(isDocBetween(docOf(bytes), tally.tallyId, A, A)).toBe(false)
    expect(isDocBetween(docOf(bytes), 'another', A, B)).toBe(false)
  })

  it('each new document is one change by an actor of its own (forks of one empty engine share nothing)', () => {
    const docs = [0, 1, 2].map(() => load<StoredTallyDoc>(newDocumentBytes(tally, terms, A, tally.createdAt)))
    for (const doc of docs) expect(getAllChanges(doc).map((c) => decodeChange(c).seq)).toEqual([1])
    const actors = docs.map((d) => decodeChange(getAllChanges(d)[0]!).actor)
    expect(new Set(actors).size).toBe(3)
    // a change to one reaches neither the others nor the next new document
    const changed = change(docs[0]!, (d) => {
      d.terms.unit = scalars('EUR')
    })
    expect(str(changed.terms.unit)).toBe('EUR')
    expect(str(docs[1]!.terms.unit)).toBe('CHIP')
    expect(getAllChanges(load(newDocumentBytes(tally, terms, A, tally.createdAt)))).toHaveLength(1)
  })

  it('isAutomergeChunks: changes and whole documents pass; cut, flipped, foreign or empty bytes do not', () => {
    const bytes = newDocumentBytes(tally, terms, A, tally.createdAt)
    expect(isAutomergeChunks(bytes)).toBe(true)
    const doc = change(load<StoredTallyDoc>(bytes), (d) => {
      d.terms.unit = scalars('EUR')
    })
    expect(isAutomergeChunks(saveSince(doc, []))).toBe(true)
    expect(isAutomergeChunks(save(doc))).toBe(true)

    expect(isAutomergeChunks(new Uint8Array(0))).toBe(false)
    expect(isAutomergeChunks(bytes.subarray(0, bytes.length - 1))).toBe(false)
    expect(isAutomergeChunks(Buffer.concat([bytes, Buffer.from([0x85])]))).toBe(false)
    for (const at of [0, 5, 8, 40, bytes.length - 1]) {
      const flipped = new Uint8Array(bytes)
      flipped[at]! ^= 0x10
      expect(isAutomergeChunks(flipped)).toBe(false)
    }
    expect(isAutomergeChunks(Buffer.from('not an automerge document at all'))).toBe(false)
  })

  it('every string of a new document is a scalar: one op per string, not one per character', () => {
    const doc = load<StoredTallyDoc>(newDocumentBytes(tally, terms, A, tally.createdAt))
    for (const v of [
      doc.schema,
      doc.tally.tallyId,
      doc.tally.initiatorPeerId,
      doc.terms.note,
      doc.log[0]?.by
    ])
      expect(isImmutableString(v)).toBe(true)
    const proposed = change(doc, (d) =>
      addProposal(d, {
        proposalId: 'p1',
        by: B,
        at: tally.createdAt,
        terms: { note: 'net 60' },
        status: 'open'
      })
    )
    const accepted = change(proposed, (d) => acceptProposal(d, 'p1', A, tally.createdAt))
    expect(isImmutableString(accepted.terms.note)).toBe(true)
    expect(isImmutableString(accepted.proposals.p1?.status)).toBe(true)
    // it counts once B, its proposer, confirms it
    expect(docView(accepted).terms.note).toBe('net 30')
    const confirmed = change(accepted, (d) => confirmAcceptance(d, 'p1', B, tally.createdAt))
    expect(docView(confirmed).terms.note).toBe('net 60')
  })

  it('a document written before scalars (text strings) still reads, is recognised and negotiates', () => {
    const old = load<StoredTallyDoc>(newDocumentBytes(tally, terms, A, tally.createdAt, 'text'))
    expect(isImmutableString(old.tally.tallyId)).toBe(false)
    expect(isDocBetween(old, tally.tallyId, A, B)).toBe(true)
    const proposed = change(old, (d) =>
      addProposal(d, { proposalId: 'p1', by: B, at: tally.createdAt, terms: { unit: 'EUR' }, status: 'open' })
    )
    expect(() => change(proposed, (d) => acceptProposal(d, 'p1', B, tally.createdAt))).toThrow(/own proposal/)
    const accepted = change(proposed, (d) => acceptProposal(d, 'p1', A, tally.createdAt))
    // it stays text: the older peer that made it compares its strings with plain ones
    expect(stringFormOf(accepted)).toBe('text')
    expect(isImmutableString(accepted.proposals.p1?.status)).toBe(false)
    expect(isImmutableString(accepted.terms.unit)).toBe(false)
    const view = docView(accepted)
    expect(view.terms).toEqual({ ...terms, unit: 'EUR' })
    expect(view.proposals[0]).toMatchObject({ proposalId: 'p1', status: 'accepted', acceptedBy: A })
    expect(view.log.map((e) => e.kind)).toEqual(['created', 'proposed', 'accepted'])
    // an older peer confirms nothing: the acceptance counts at once, as it did
    expect(view.proposals[0]?.awaitsConfirmation).toBeUndefined()
  })

  it('the form follows the bootstrap version: scalars from 1.2.0 on, text with a 1.1.0 or 1.0.0 peer', () => {
    expect(stringFormFor(PROTOCOL_ID)).toBe('scalar')
    expect(stringFormFor(PROTOCOL_ID_V1_1)).toBe('text')
    expect(stringFormFor(PROTOCOL_ID_V1_0)).toBe('text')
    expect(stringFormFor(undefined)).toBe('text')
  })
})
