import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Uint8ArrayList } from 'uint8arraylist'
import type { MessageStream } from '@libp2p/interface'
import { quietNoiseDecoder } from '../../main/node/noise-decoder.ts'

/** The shape of libp2p-noise's decoder (its LengthPrefixedDecoder), with a length decoder that must not run. */
function noiseLikeStream(maxBufferSize = 16 * 1024 * 1024): {
  stream: MessageStream
  decoder: { decode(buf: Uint8Array): Iterable<Uint8ArrayList> }
} {
  const decoder = {
    buffer: new Uint8ArrayList(),
    maxBufferSize,
    lengthDecoder: (): number => {
      throw new Error('the stock length decoder was called')
    },
    decode(): Iterable<Uint8ArrayList> {
      throw new Error('the stock decode was called')
    }
  }
  return { stream: { decoder } as unknown as MessageStream, decoder }
}

function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + body.byteLength)
  out[0] = body.byteLength >> 8
  out[1] = body.byteLength & 0xff
  out.set(body, 2)
  return out
}

describe('quietNoiseDecoder: Noise messages split without a thrown RangeError per chunk', () => {
  it('gives the same messages in order however the bytes are chunked, and drops empty ones as noise does', () => {
    const bodies = [randomBytes(1), randomBytes(0), randomBytes(300), randomBytes(65535), randomBytes(2)]
    const wire = Buffer.concat(bodies.map((b) => frame(b)))
    const want = bodies.filter((b) => b.byteLength > 0).map((b) => b.toString('hex'))
    for (const size of [1, 2, 3, 7, 301, 4096, wire.byteLength]) {
      const { stream, decoder } = noiseLikeStream()
      quietNoiseDecoder(stream)
      const got: string[] = []
      for (let at = 0; at < wire.byteLength; at += size) {
        for (const msg of decoder.decode(wire.subarray(at, at + size)))
          got.push(Buffer.from(msg.subarray()).toString('hex'))
      }
      expect(got).toEqual(want)
    }
  })

  it('keeps the stock buffer limit and its error name', () => {
    const { stream, decoder } = noiseLikeStream(100)
    quietNoiseDecoder(stream)
    expect(() => [...decoder.decode(new Uint8Array(101))]).toThrow(
      expect.objectContaining({ name: 'InvalidParametersError' })
    )
  })

  it('leaves a stream without a noise decoder as it is', () => {
    const stream = {} as MessageStream
    quietNoiseDecoder(stream)
    expect(stream).toEqual({})
  })
})

describe('the carried libp2p-noise patch (patches/, applied by `npm ci` through patch-package)', () => {
  it('uint16BEDecode answers "not enough bytes" with one shared RangeError, no stack captured per call', async () => {
    // a path import: the package's exports map does not list its encoder
    const { uint16BEDecode } =
      (await import('../../node_modules/@chainsafe/libp2p-noise/dist/src/encoder.js')) as {
        uint16BEDecode: (data: Uint8Array | Uint8ArrayList) => number
      }
    const thrown = (data: Uint8Array | Uint8ArrayList): unknown => {
      try {
        uint16BEDecode(data)
      } catch (err) {
        return err
      }
      return undefined
    }
    const first = thrown(new Uint8ArrayList(Uint8Array.of(1)))
    expect(first).toBeInstanceOf(RangeError)
    expect(thrown(new Uint8Array(0))).toBe(first)
    expect(uint16BEDecode(Uint8Array.of(1, 2))).toBe(258)
    expect(uint16BEDecode(new Uint8ArrayList(Uint8Array.of(1), Uint8Array.of(2)))).toBe(258)
  })
})
