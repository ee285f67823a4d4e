/** The CBOR check in front of automerge-repo's decoder: every frame we send passes, tags and odd shapes do not. */
import { cbor } from '@automerge/automerge-repo/slim'
import { describe, expect, it } from 'vitest'
import { assertPlainCbor } from '../../main/tallydb/cbor-guard.ts'

const reason = (bytes: Uint8Array): string | undefined => {
  try {
    assertPlainCbor(bytes)
    return undefined
  } catch (err) {
    expect((err as Error).name).toBe('CborShapeError')
    return (err as Error).message
  }
}

describe('assertPlainCbor', () => {
  it('passes the frames a channel carries, as automerge-repo encodes them', () => {
    const frames = [
      { t: 'hello', peerId: '12D3KooWQm1aZc5x3DWu3Dm8WgRd4R2QPbbgdrGfvm2mXJbEPR8W', meta: {} },
      { t: 'open', id: 7, tallyId: '6c1f3d0e', grant: 'x'.repeat(43) },
      {
        t: 'opened',
        id: 7,
        documentId: '4NMNnkMhL8jXrdJ9jamS58PAVdXu',
        doc: new Uint8Array(70_000).fill(0xc2)
      },
      {
        t: 'msg',
        m: {
          type: 'sync',
          senderId: 'a',
          targetId: 'b',
          documentId: 'd',
          data: new Uint8Array([0xc3, 0xff, 0])
        }
      },
      { t: 'refused', id: 2 },
      { n: -5, f: 1.5, big: 2 ** 40, neg: -(2 ** 40), list: [1, [2, [3]]], no: null, yes: true }
    ]
    for (const frame of frames)
      expect(reason(cbor.encode(frame)), JSON.stringify(frame).slice(0, 40)).toBeUndefined()
  })

  it('refuses tags (a bignum first of all), deep nesting, bytes after the item and truncated items', () => {
    expect(reason(new Uint8Array([0xc2, 0x44, 1, 2, 3, 4]))).toMatch(/tagged/)
    expect(
      reason(cbor.encode({ t: 'msg', m: { x: 1 } }).map((b, i, a) => (i === a.length - 1 ? 0xc3 : b)))
    ).toBeDefined()
    const deep = new Uint8Array(40).fill(0x81)
    expect(reason(deep)).toMatch(/deep/)
    expect(reason(new Uint8Array([0x01, 0x02]))).toMatch(/after/)
    expect(reason(new Uint8Array([0x5a, 0xff, 0xff, 0xff, 0xff, 0]))).toMatch(/truncated/)
    // a count far beyond the bytes fails at its first missing item, not after 4 billion steps
    expect(reason(new Uint8Array([0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toMatch(
      /truncated/
    )
    expect(reason(new Uint8Array([0xff]))).toMatch(/break/)
    expect(reason(new Uint8Array([0x9f, 0x01, 0x02]))).toMatch(/truncated/)
    expect(reason(new Uint8Array([0x9f, 0x01, 0xff]))).toBeUndefined()
  })
})
