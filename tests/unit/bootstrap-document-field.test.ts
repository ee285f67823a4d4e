/**
 * `dbConnectionInfo.document` (bootstrap 1.1.0; its seed form 1.3.0): validated and bounded on the wire,
 * the largest frame that carries it still fits, a stream negotiated as 1.0.0 neither sends it nor accepts
 * it, and one negotiated before 1.3.0 neither sends nor accepts a seed.
 */
import { describe, expect, it } from 'vitest'
import { streamPair } from '@libp2p/utils'
import { FrameStream } from '../../main/bootstrap/frames.ts'
import {
  LIMITS,
  carriesDocument,
  decodeMessage,
  encodeMessage,
  withoutDocument
} from '../../main/bootstrap/messages.ts'
import type { Message } from '../../main/bootstrap/messages.ts'
import {
  MAX_FRAME_BYTES,
  PROTOCOL_ID,
  PROTOCOL_ID_V1_0,
  PROTOCOL_ID_V1_1,
  PROTOCOL_ID_V1_2,
  PROTOCOL_IDS
} from '../../main/bootstrap/types.ts'

const tally = {
  tallyId: 't1',
  createdBy: 'stock',
  initiatorPeerId: 'B123',
  respondentPeerId: 'A123',
  createdAt: '2026-11-25T00:00:00Z'
} as const
const document = {
  id: '2ZzHFfXkzjUXXjXeQXCBZi3xprp9',
  data: Buffer.from('automerge bytes').toString('base64')
}
const db = { nodes: ['/ip4/127.0.0.1/tcp/1'], credentials: 'c', document }
const stock: Message = {
  type: 'ProvisioningResult',
  approved: true,
  role: 'stock',
  partyId: 'A123',
  cadrePeerAddrs: [],
  provisionResult: { tally, dbConnectionInfo: db }
}
const foil: Message = { type: 'DatabaseResult', tally: { ...tally, createdBy: 'foil' }, dbConnectionInfo: db }
const opts = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(10_000) })

function badMessage(input: unknown): void {
  expect(() => decodeMessage(JSON.stringify(input))).toThrow(
    expect.objectContaining({ name: 'BadMessageError', reason: 'bad-message' })
  )
}

describe('dbConnectionInfo.document', () => {
  it('round-trips in a stock ProvisioningResult and a foil DatabaseResult', () => {
    for (const m of [stock, foil]) {
      expect(decodeMessage(encodeMessage(m))).toEqual(m)
      expect(carriesDocument(m)).toBe(true)
    }
    expect(PROTOCOL_IDS).toEqual([PROTOCOL_ID, PROTOCOL_ID_V1_2, PROTOCOL_ID_V1_1, PROTOCOL_ID_V1_0])
    const seeded: Message = {
      ...foil,
      dbConnectionInfo: { ...db, document: { id: document.id, seed: '{}' } }
    }
    expect(decodeMessage(encodeMessage(seeded))).toEqual(seeded)
  })

  it('refuses a bad id, bad base64, an unknown key and data beyond its bound', () => {
    const withDoc = (d: unknown): unknown => ({ ...foil, dbConnectionInfo: { ...db, document: d } })
    badMessage(withDoc({ ...document, id: '' }))
    badMessage(withDoc({ ...document, id: 'not/an-id' }))
    badMessage(withDoc({ ...document, id: 'x'.repeat(LIMITS.documentId + 1) }))
    badMessage(withDoc({ ...document, data: 'not base64!' }))
    badMessage(withDoc({ ...document, data: 'abc' }))
    badMessage(withDoc({ ...document, data: 'A'.repeat(LIMITS.documentData + 4) }))
    badMessage(withDoc({ ...document, extra: 1 }))
    badMessage(withDoc({ id: document.id }))
    badMessage(withDoc('bytes'))
    // a seed instead of the data, never both; bounded
    badMessage(withDoc({ ...document, seed: '{}' }))
    badMessage(withDoc({ id: document.id, seed: '' }))
    badMessage(withDoc({ id: document.id, seed: 'x'.repeat(LIMITS.documentSeed + 1) }))
    badMessage(withDoc({ id: document.id, seed: 7 }))
    expect(
      decodeMessage(JSON.stringify(withDoc({ id: document.id, seed: 'x'.repeat(LIMITS.documentSeed) }))).type
    ).toBe('DatabaseResult')
    // the bound itself passes
    expect(
      decodeMessage(JSON.stringify(withDoc({ ...document, data: 'A'.repeat(LIMITS.documentData) }))).type
    ).toBe('DatabaseResult')
  })

  it('the largest ProvisioningResult with the largest document fits in one frame', () => {
    const addrs = Array.from({ length: LIMITS.cadreAddrs }, () => '/'.repeat(LIMITS.multiaddr))
    const largest: Message = {
      type: 'ProvisioningResult',
      approved: true,
      role: 'stock',
      partyId: 'A'.repeat(LIMITS.peerId),
      cadrePeerAddrs: addrs,
      provisionResult: {
        tally: {
          tallyId: 't'.repeat(LIMITS.tallyId),
          createdBy: 'stock',
          initiatorPeerId: 'B'.repeat(LIMITS.peerId),
          respondentPeerId: 'A'.repeat(LIMITS.peerId),
          createdAt: 'c'.repeat(LIMITS.timestamp)
        },
        dbConnectionInfo: {
          nodes: addrs.slice(0, LIMITS.dbNodes),
          credentials: 'x'.repeat(LIMITS.credentials),
          document: { id: 'i'.repeat(LIMITS.documentId), data: 'A'.repeat(LIMITS.documentData) }
        }
      }
    }
    expect(encodeMessage(largest).byteLength).toBeLessThanOrEqual(MAX_FRAME_BYTES)
  })

  it('withoutDocument leaves everything else as it is', () => {
    const stripped = withoutDocument(stock)
    expect(carriesDocument(stripped)).toBe(false)
    expect(stripped).toEqual({
      ...stock,
      provisionResult: { tally, dbConnectionInfo: { nodes: db.nodes, credentials: 'c' } }
    })
    expect(withoutDocument(foil)).toEqual({
      ...foil,
      dbConnectionInfo: { nodes: db.nodes, credentials: 'c' }
    })
    const ack: Message = { type: 'Ack', ok: true }
    expect(withoutDocument(ack)).toBe(ack)
  })

  it('a 1.3.0, 1.2.0 and 1.1.0 stream carry it; a 1.0.0 stream sends it stripped and refuses a frame with it', async () => {
    for (const protocol of [PROTOCOL_ID, PROTOCOL_ID_V1_2, PROTOCOL_ID_V1_1]) {
      const [l1, r1] = await streamPair()
      l1.protocol = r1.protocol = protocol
      await new FrameStream(l1).write(stock, opts())
      expect(await new FrameStream(r1).read(['ProvisioningResult'], opts())).toEqual(stock)
    }

    const [l2, r2] = await streamPair()
    l2.protocol = r2.protocol = PROTOCOL_ID_V1_0
    await new FrameStream(l2).write(foil, opts())
    expect(await new FrameStream(r2).read(['DatabaseResult'], opts())).toEqual(withoutDocument(foil))

    // a 1.1.0 writer (it thinks) to a 1.0.0 reader: the field is not part of 1.0.0, so the frame is refused
    const [l3, r3] = await streamPair()
    l3.protocol = PROTOCOL_ID
    r3.protocol = PROTOCOL_ID_V1_0
    await new FrameStream(l3).write(foil, opts())
    await expect(new FrameStream(r3).read(['DatabaseResult'], opts())).rejects.toMatchObject({
      name: 'BadMessageError'
    })
  })

  it('a seed travels on a 1.3.0 stream only: an older one sends the frame without the document and refuses one with a seed', async () => {
    const seeded: Message = {
      ...stock,
      provisionResult: {
        tally,
        dbConnectionInfo: { ...db, document: { id: document.id, seed: '{"terms":{}}' } }
      }
    }
    const [l1, r1] = await streamPair()
    l1.protocol = r1.protocol = PROTOCOL_ID
    await new FrameStream(l1).write(seeded, opts())
    expect(await new FrameStream(r1).read(['ProvisioningResult'], opts())).toEqual(seeded)

    for (const protocol of [PROTOCOL_ID_V1_2, PROTOCOL_ID_V1_1]) {
      const [l, r] = await streamPair()
      l.protocol = r.protocol = protocol
      await new FrameStream(l).write(seeded, opts())
      expect(await new FrameStream(r).read(['ProvisioningResult'], opts())).toEqual(withoutDocument(seeded))
      // a 1.3.0 writer to an older reader
      const [l2, r2] = await streamPair()
      l2.protocol = PROTOCOL_ID
      r2.protocol = protocol
      await new FrameStream(l2).write(seeded, opts())
      await expect(new FrameStream(r2).read(['ProvisioningResult'], opts())).rejects.toMatchObject({
        name: 'BadMessageError'
      })
    }
  })
})
