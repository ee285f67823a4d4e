/**
 * Reading how many operations a chunk holds from its run-length columns, before Automerge builds them:
 * at least what the engine decodes for honest changes and documents of both string forms, and the claim
 * of a few patched bytes (an outside reviewer's decode bomb), read without decoding.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  change,
  clone,
  decodeChange,
  encodeChange,
  getAllChanges,
  getChanges,
  save
} from '@automerge/automerge'
import { chunkRows } from '../../main/tallydb/change-columns.ts'
import { VET_LIMITS, vetChanges } from '../../main/tallydb/change-vetting.ts'
import { newDocumentBytes } from '../helpers/legacy-document.ts'
import { acceptProposal, addProposal } from '../../main/tallydb/tally-document.ts'
import type { StoredTallyDoc } from '../../main/tallydb/tally-document.ts'
import { load } from '@automerge/automerge'
import { A, B, at, draftTally } from '../helpers/tally-parties.ts'

const LIMIT = 1 << 20

/** `n` as LEB128 bytes (unsigned, or signed). */
function leb(n: number, signed: boolean): number[] {
  const out: number[] = []
  for (;;) {
    const b = n & 0x7f
    n = Math.floor(n / 128)
    const last = signed ? (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0) : n === 0
    if (last) return [...out, b]
    out.push(b | 0x80)
  }
}

describe('chunkRows', () => {
  for (const form of ['scalar', 'text'] as const) {
    it(`holds at least the operations the engine decodes (${form} strings): changes and whole documents`, () => {
      let doc = load<StoredTallyDoc>(newDocumentBytes(draftTally(), { note: 'n' }, A, at, form))
      const start = clone(doc)
      doc = change(doc, (d) =>
        addProposal(d, { proposalId: 'b1', by: B, at, terms: { note: 'x'.repeat(2000) }, status: 'open' })
      )
      doc = change(doc, (d) => acceptProposal(d, 'b1', A, at))
      for (const c of [...getAllChanges(start), ...getChanges(start, doc)]) {
        const ops = decodeChange(c).ops.length
        const rows = chunkRows(c, LIMIT)
        expect(typeof rows).toBe('number')
        expect(rows as number).toBeGreaterThanOrEqual(ops)
        expect(rows as number).toBeLessThanOrEqual(3 * ops + 4)
      }
      const all = getAllChanges(doc).reduce((n, c) => n + decodeChange(c).ops.length, 0)
      const whole = chunkRows(save(doc), LIMIT) // deflated columns
      expect(whole as number).toBeGreaterThanOrEqual(all)
      // several chunks in a row: the largest counts (a note written as text is one row per character)
      const rowsOfAll = chunkRows(Buffer.concat(getAllChanges(doc)), LIMIT) as number
      expect(rowsOfAll).toBeGreaterThanOrEqual(form === 'text' ? 2000 : 10)
    })
  }

  it('reads a decode bomb’s claim without building it, and the vetting refuses it at once', () => {
    // 16 384 identical operations, then every run length patched to a million (same byte width)
    const op = { action: 'set', obj: '_root', key: 'a', value: null, pred: [] }
    const base = Array.from(
      encodeChange({
        actor: 'cd'.repeat(16),
        seq: 1,
        startOp: 1,
        time: 0,
        message: null,
        deps: [],
        ops: Array(16384).fill(op)
      } as unknown as Parameters<typeof encodeChange>[0])
    )
    const from = [leb(16384, false), leb(16384, true)]
    const to = [leb(1_000_000, false), leb(1_000_000, true)]
    let patched = 0
    for (let i = 9; i < base.length - 3; i++)
      for (let k = 0; k < 2; k++)
        if (from[k]!.every((x, j) => base[i + j] === x)) {
          to[k]!.forEach((x, j) => (base[i + j] = x))
          patched++
          i += 2
          break
        }
    expect(patched).toBeGreaterThan(0)
    const h = createHash('sha256')
      .update(Uint8Array.from(base.slice(8)))
      .digest()
    for (let j = 0; j < 4; j++) base[4 + j] = h[j]!
    const bomb = Uint8Array.from(base)
    expect(bomb.byteLength).toBeLessThan(200)
    expect(chunkRows(bomb, LIMIT)).toBeGreaterThanOrEqual(1_000_000)
    const doc = load<StoredTallyDoc>(newDocumentBytes(draftTally(), {}, A, at))
    const v = vetChanges(doc, [bomb], B)
    expect(v.ok === false && v.reason).toMatch(/operations/)
    expect(VET_LIMITS.maxChangeOps).toBeLessThan(1_000_000)
  })

  it('says why bytes do not read', () => {
    expect(chunkRows(new Uint8Array([1, 2, 3]), LIMIT)).toMatch(/not an Automerge chunk|cut short/)
    const c = getAllChanges(load(newDocumentBytes(draftTally(), {}, A, at)))[0]!
    expect(chunkRows(c.subarray(0, c.length - 5), LIMIT)).toMatch(/cut short/)
  })
})
