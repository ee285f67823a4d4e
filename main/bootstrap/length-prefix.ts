/**
 * lpStream with a length decoder that does not build an error per frame. The stock decoder throws a new
 * RangeError whenever the length prefix is still incomplete, which lpStream catches to read one more
 * byte: every frame of 128 bytes or more (a contact, a ProvisioningResult) paid one stack capture, with
 * its async frames, on each side (~18 µs on a merchant's node, docs/performance.md).
 */
import { lpStream } from '@libp2p/utils'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

/** lpStream's signal for "one more byte, please": always the same object, so no stack is captured. */
const INCOMPLETE = new RangeError('the length prefix is not complete yet')

/** A length prefix longer than its frames can need (what lpStream reports as InvalidDataLengthLengthError). */
class LengthPrefixTooLongError extends Error {
  override name = 'InvalidDataLengthLengthError'
}

/** Bytes of the unsigned varint that encodes `value`. */
function varintBytes(value: number): number {
  let bytes = 1
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) bytes++
  return bytes
}

/**
 * An unsigned-varint length decoder for lpStream, for frames of at most `maxDataLength` bytes. An
 * unfinished prefix throws the shared INCOMPLETE; one longer than `maxDataLength` needs fails at once
 * (lpStream's own check runs only after a prefix decodes, so a stream of 0xff bytes would keep it reading).
 */
export function lengthDecoder(maxDataLength: number): (data: Uint8ArrayList) => number {
  const maxBytes = varintBytes(maxDataLength)
  return (data) => {
    let value = 0
    let scale = 1
    const n = Math.min(data.byteLength, maxBytes)
    for (let i = 0; i < n; i++) {
      const byte = data.get(i)
      value += (byte & 0x7f) * scale
      if (byte < 0x80) return value
      scale *= 0x80
    }
    if (data.byteLength >= maxBytes) {
      throw new LengthPrefixTooLongError(`length prefix longer than ${maxBytes} bytes`)
    }
    throw INCOMPLETE
  }
}

/** lpStream(stream) for frames of at most `maxDataLength` bytes, with the decoder above. */
export function lengthPrefixed(stream: Stream, maxDataLength: number): LengthPrefixedStream<Stream> {
  return lpStream(stream, { maxDataLength, lengthDecoder: lengthDecoder(maxDataLength) })
}
