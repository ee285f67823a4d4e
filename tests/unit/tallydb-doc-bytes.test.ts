/**
 * A tally document's bytes: the provisioner's document made on the engine loads as the initial document,
 * and the opener's check of handed-over bytes (whole Automerge chunks, checksums right) without the engine.
 */
import { describe, expect, it } from 'vitest'
import { change, from, load, save, saveSince } from '@automerge/automerge'
import { docOf, isAutomergeChunks, isDocBetween, newDocumentBytes } from '../../main/tallydb/doc-bytes.ts'
import { initialDoc } from '../../main/tallydb/tally-document.ts'
import type { TallyDoc } from '../../main/tallydb/tally-document.ts'

const A = '12D3KooWQm1aZc5x3DWu3Dm8WgRd4R2QPbbgdrGfvm2mXJbEPR8W'
const B = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'
const tally = {
  tallyId: '6c1f3d0e-0b5a-4f51-9a59-1f6a0c2f8e11',
  createdBy: 'stock' as const,
  initiatorPeerId: B,
  respondentPeerId: A,
  createdAt: '2026-11-30T00:00:00.000Z'
}
const terms = { unit: 'CHIP', stockCreditLimit: 500, note: 'net 30' }

describe('tally document bytes', () => {
  it('newDocumentBytes loads as the initial document, as from() would make it', () => {
    const bytes = newDocumentBytes(tally, terms, A, tally.createdAt)
    const expected = initialDoc(tally, terms, A, tally.createdAt)
    expect(JSON.parse(JSON.stringify(docOf(bytes)))).toEqual(expected)
    expect(saveSince(from(expected as unknown as Record<string, unknown>), []).length).toBe(bytes.length)
    expect(isDocBetween(docOf(bytes), tally.tallyId, A, B)).toBe(true)
    expect(isDocBetween(docOf(bytes), tally.tallyId, B, A)).toBe(true)
    expect(isDocBetween(docOf(bytes), tally.tallyId, A, A)).toBe(false)
    expect(isDocBetween(docOf(bytes), 'another', A, B)).toBe(false)
  })

  it('isAutomergeChunks: changes and whole documents pass; cut, flipped, foreign or empty bytes do not', () => {
    const bytes = newDocumentBytes(tally, terms, A, tally.createdAt)
    expect(isAutomergeChunks(bytes)).toBe(true)
    const doc = change(load<TallyDoc>(bytes), (d) => {
      d.terms.unit = 'EUR'
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
})
