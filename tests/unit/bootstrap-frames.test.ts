import { describe, expect, it } from 'vitest'
import { lpStream, streamPair } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { FrameStream } from '../../main/bootstrap/frames.ts'
import { lengthDecoder } from '../../main/bootstrap/length-prefix.ts'
import { refusal } from '../../main/bootstrap/errors.ts'
import { MAX_FRAME_BYTES } from '../../main/bootstrap/types.ts'

const opts = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(10_000) })

describe('FrameStream over an in-memory stream pair', () => {
  it('writes and reads validated messages in order', async () => {
    const [left, right] = await streamPair()
    const a = new FrameStream(left)
    const b = new FrameStream(right)
    await a.write({ type: 'Ack', ok: false, reason: 'busy' }, opts())
    await a.write({ type: 'Ack', ok: true }, opts())
    expect(await b.read(['Ack'], opts())).toEqual({ type: 'Ack', ok: false, reason: 'busy' })
    expect(await b.read(['Ack', 'DatabaseResult'], opts())).toEqual({ type: 'Ack', ok: true })
  })

  it('a message of another type than expected is a BadMessageError', async () => {
    const [left, right] = await streamPair()
    await new FrameStream(left).write({ type: 'Ack', ok: true }, opts())
    await expect(new FrameStream(right).read(['InboundContact'], opts())).rejects.toMatchObject({
      name: 'BadMessageError',
      reason: 'bad-message'
    })
  })

  it('an oversize length prefix is a BadMessageError before the body is read', async () => {
    const [left, right] = await streamPair()
    const raw = lpStream(left, { maxDataLength: MAX_FRAME_BYTES * 4 })
    await raw.write(new Uint8Array(MAX_FRAME_BYTES + 1))
    await expect(new FrameStream(right).read(['Ack'], opts())).rejects.toMatchObject({
      name: 'BadMessageError'
    })
  })

  it('readEnd: a clean close resolves, a reset is StreamClosedError, a further frame is BadMessageError', async () => {
    const [l1, r1] = await streamPair()
    await new FrameStream(l1).closeWrite(opts())
    await expect(new FrameStream(r1).readEnd(opts())).resolves.toBeUndefined()

    const [l2, r2] = await streamPair()
    const reader = new FrameStream(r2).readEnd(opts())
    l2.abort(new Error('gone'))
    await expect(reader).rejects.toMatchObject({ name: 'StreamClosedError' })

    const [l3, r3] = await streamPair()
    await new FrameStream(l3).write({ type: 'Ack', ok: true }, opts())
    await expect(new FrameStream(r3).readEnd(opts())).rejects.toMatchObject({ name: 'BadMessageError' })
  })

  it('a read whose signal aborts rejects with the abort, not a protocol error', async () => {
    const [, right] = await streamPair()
    const controller = new AbortController()
    const read = new FrameStream(right).read(['Ack'], { signal: controller.signal })
    controller.abort(new Error('stop'))
    await expect(read).rejects.toBeDefined()
    await expect(read).rejects.not.toMatchObject({ name: 'BadMessageError' })
  })
})

/** Unsigned LEB128, as lpStream's writer encodes lengths. */
function encodeVarint(n: number): Uint8Array {
  const out: number[] = []
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n & 0x7f) | 0x80)
  out.push(n)
  return Uint8Array.from(out)
}

describe('lengthDecoder (lpStream without an error built per frame)', () => {
  const decode = lengthDecoder(MAX_FRAME_BYTES)

  it('decodes what uint8-varint encodes, from a list of single bytes as lpStream builds it', () => {
    for (const n of [0, 1, 127, 128, 300, 16_383, 16_384, MAX_FRAME_BYTES]) {
      const bytes = encodeVarint(n)
      const list = new Uint8ArrayList(...Array.from(bytes, (b) => Uint8Array.of(b)))
      expect(decode(list)).toBe(n)
    }
  })

  it('an unfinished prefix throws one shared RangeError (lpStream reads another byte)', () => {
    const first = (() => {
      try {
        decode(new Uint8ArrayList(Uint8Array.of(0x80)))
      } catch (err) {
        return err
      }
    })()
    const second = (() => {
      try {
        decode(new Uint8ArrayList(Uint8Array.of(0xac)))
      } catch (err) {
        return err
      }
    })()
    expect(first).toBeInstanceOf(RangeError)
    expect(second).toBe(first)
  })

  it('a prefix longer than the largest frame needs fails at once instead of reading on', async () => {
    const [left, right] = await streamPair()
    left.send(new Uint8Array(64).fill(0xff))
    await expect(new FrameStream(right).read(['Ack'], opts())).rejects.toMatchObject({
      name: 'BadMessageError'
    })
  })

  it('frames of 128 bytes and more (two- and three-byte prefixes) round-trip', async () => {
    const [left, right] = await streamPair()
    const a = new FrameStream(left)
    const b = new FrameStream(right)
    for (const fields of [1, 16]) {
      const contact = {
        type: 'InboundContact' as const,
        token: 'tok',
        partyId: 'B123',
        identityBundle: Object.fromEntries(
          Array.from({ length: fields }, (_, i) => [`f${i}`, 'n'.repeat(1000)])
        ),
        cadrePeerAddrs: []
      }
      await a.write(contact, opts())
      expect(await b.read(['InboundContact'], opts())).toEqual(contact)
    }
  })
})

describe('refusal', () => {
  it('is a RejectedError with its reason and no stack frames', () => {
    const err = refusal('invalid-token')
    expect(err).toMatchObject({ name: 'RejectedError', reason: 'invalid-token' })
    expect(err.stack?.split('\n')).toHaveLength(1)
    expect(Error.stackTraceLimit).toBeGreaterThan(0)
  })
})
