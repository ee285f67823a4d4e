/**
 * One byte array of a sync message may hold several chunks back to back (Automerge 3 packs changes so):
 * each is judged on its own. An outside reviewer found honest steps refused forever ("a change that does
 * not decode") and a 4 KB array of a document chunk and 64 run-length changes that made the engine build
 * 9.5 M operations (30–44 s, 2–4 GB) because only its largest chunk was counted.
 */
import { createHash } from 'node:crypto'
import { deflateRawSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import {
  change,
  clone,
  encodeChange,
  from,
  generateSyncMessage,
  initSyncState,
  load,
  receiveSyncMessage,
  save
} from '@automerge/automerge'
import type { Doc, SyncState } from '@automerge/automerge'
import { InflateBudget, chunkRows, splitChunks } from '../../main/tallydb/change-columns.ts'
import { syncMessageChanges, vetChanges } from '../../main/tallydb/change-vetting.ts'
import { newDocumentBytes } from '../helpers/legacy-document.ts'
import { addProposal } from '../../main/tallydb/tally-document.ts'
import { docView } from '../../main/tallydb/doc-view.ts'
import type { StoredTallyDoc } from '../../main/tallydb/tally-document.ts'
import { A, B, at, draftTally } from '../helpers/tally-parties.ts'

type D = Doc<StoredTallyDoc>

/** A valid change of `rows` identical operations (run-length encoded: a few dozen bytes) by `actor`. */
function flatChange(rows: number, actor: string): Uint8Array {
  const op = { action: 'set', obj: '_root', key: 'a', value: null, pred: [] }
  return encodeChange({
    actor,
    seq: 1,
    startOp: 1,
    time: 0,
    message: null,
    deps: [],
    ops: Array(rows).fill(op)
  } as never)
}

describe('chunks back to back in one byte array', () => {
  it('takes honest steps Automerge packs into one array: the customer’s steps while the merchant was away', () => {
    let merchant: D = load(newDocumentBytes(draftTally(), { unit: 'CHIP' }, A, at))
    let customer: D = clone(merchant)
    let toCustomer: SyncState = initSyncState()
    let toMerchant: SyncState = initSyncState()
    const packed: number[] = []
    const refusals: string[] = []
    const propose = (n: number, tag: string): void => {
      for (let i = 0; i < n; i++)
        customer = change(customer, (d) =>
          addProposal(d, {
            proposalId: `${tag}${i}`,
            by: B,
            at,
            terms: { note: `${tag} ${i}` },
            status: 'open'
          })
        )
    }
    const syncAll = (): void => {
      for (let round = 0; round < 8; round++) {
        let m: Uint8Array | null
        ;[toMerchant, m] = generateSyncMessage(customer, toMerchant)
        if (m !== null) {
          const blobs = syncMessageChanges(m) ?? []
          for (const blob of blobs) {
            const chunks = splitChunks(blob)
            packed.push(typeof chunks === 'string' ? 0 : chunks.length)
          }
          const vetted = blobs.length === 0 ? { ok: true as const } : vetChanges(merchant, blobs, B)
          if (!vetted.ok) refusals.push(vetted.reason)
          ;[merchant, toCustomer] = receiveSyncMessage(merchant, toCustomer, m)
        }
        ;[toCustomer, m] = generateSyncMessage(merchant, toCustomer)
        if (m !== null) [customer, toMerchant] = receiveSyncMessage(customer, toMerchant, m)
      }
    }
    propose(5, 'before')
    syncAll()
    // the merchant is away while the customer makes two more steps
    propose(2, 'away')
    syncAll()
    expect(Math.max(...packed), 'Automerge packed several chunks into one array').toBeGreaterThan(1)
    expect(refusals).toEqual([])
    expect(
      docView(merchant)
        .proposals.map((p) => p.proposalId)
        .sort()
    ).toEqual(['away0', 'away1', 'before0', 'before1', 'before2', 'before3', 'before4'].sort())
  })

  it('counts every chunk of an array: a document chunk and 64 changes of 149 000 operations is refused unloaded', () => {
    const base = from<Record<string, unknown>>({ x: 1 })
    const bomb = flatChange(149_000, 'cd'.repeat(16))
    const copies = Array.from({ length: 64 }, (_, i) => {
      // the same change by another actor (its bytes and checksum made anew): 64 distinct changes
      const b = Uint8Array.from(bomb)
      const at = Buffer.from(b).indexOf(Buffer.from('cd'.repeat(16), 'hex'))
      b.set(Buffer.from((i + 1).toString(16).padStart(32, '0'), 'hex'), at)
      b.set(createHash('sha256').update(b.subarray(8)).digest().subarray(0, 4), 4)
      return b
    })
    const blob = new Uint8Array(Buffer.concat([save(base), ...copies]))
    expect(blob.byteLength).toBeLessThan(8192)
    expect(chunkRows(blob, 1 << 22)).toBeGreaterThan(64 * 149_000)
    const heapBefore = process.memoryUsage().rss
    const vetted = vetChanges(base, [blob], B)
    expect(vetted).toMatchObject({ ok: false, reason: expect.stringMatching(/operations/) })
    // refused before the engine built them (9.5 M operations take GBs and tens of seconds)
    expect(process.memoryUsage().rss - heapBefore).toBeLessThan(256 * 1024 * 1024)
  })

  it('refuses an array cut short or with bytes that are not a chunk', () => {
    const base = from<Record<string, unknown>>({ x: 1 })
    const one = flatChange(3, 'ab'.repeat(16))
    expect(vetChanges(base, [one.subarray(0, one.byteLength - 2)], B)).toMatchObject({ ok: false })
    expect(vetChanges(base, [new Uint8Array([...one, 1, 2, 3])], B)).toMatchObject({
      ok: false,
      reason: 'not an Automerge chunk'
    })
  })

  it('charges every inflation to one budget: 63 chunks of 240 deflated columns of zeros inflate to 4 MB, not 3.9 GB', () => {
    const uleb = (n: number): number[] => {
      const out: number[] = []
      do {
        let b = n & 0x7f
        n = Math.floor(n / 128)
        if (n > 0) b |= 0x80
        out.push(b)
      } while (n > 0)
      return out
    }
    // boolean columns (type 4) with the deflate bit, each 256 KB of zeros: 0 rows, so no row bound trips
    const column = deflateRawSync(Buffer.alloc(256 * 1024 - 16), { level: 9 })
    const count = Math.floor((64 * 1024 - 80) / (column.length + 6))
    const meta = [...uleb(count)]
    for (let i = 0; i < count; i++) meta.push(...uleb(((i + 1) << 4) | 0x08 | 4), ...uleb(column.length))
    const head = [0, 16, ...Array<number>(16).fill(0xcd), 1, 1, 0, 0, 0]
    const body = Buffer.concat([Buffer.from(head), Buffer.from(meta), ...Array<Buffer>(count).fill(column)])
    const chunk = Uint8Array.from([0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, ...uleb(body.length), ...body])
    const counted = chunkRows(chunk, 256 * 1024, new InflateBudget(4 * 1024 * 1024))
    // one chunk alone: its own budget is a change's 256 KB, not 240 × 256 KB
    expect(counted).toBe('a chunk cut short or too large')
    // a message's chunks share one budget: once spent, the next chunk is refused before it inflates
    const spent = new InflateBudget(0)
    expect(chunkRows(chunk, 256 * 1024, spent)).toBe('a chunk cut short or too large')
    const vetted = vetChanges(from({ x: 1 }), Array<Uint8Array>(63).fill(chunk), B)
    expect(vetted.ok).toBe(false)
  })
})
