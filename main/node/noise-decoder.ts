/**
 * libp2p-noise splits what it receives into messages with @libp2p/utils' LengthPrefixedDecoder, which asks
 * its length decoder for the next length even when the buffer is empty: noise's `uint16BEDecode` then
 * throws a RangeError (a stack trace captured) that the decoder catches as "not enough bytes yet". That
 * happens once for every chunk the socket delivers, the usual case being a chunk of whole messages, and it
 * was 2–3 % of the merchant's CPU in a rush. Here the same split, without the exception. (The carried
 * patch in patches/ makes that RangeError a shared one, for the reads this cannot reach: the handshake's
 * lpStream and the bytes the stream is created with; here no exception is thrown at all.)
 */
import { InvalidParametersError } from '@libp2p/interface'
import type { MessageStream } from '@libp2p/interface'

/** The fields of noise's LengthPrefixedDecoder this replaces `decode` over (public in its JS). */
interface NoiseDecoder {
  buffer: {
    byteLength: number
    append(buf: unknown): void
    get(index: number): number
    sublist(begin: number, end: number): { byteLength: number }
    consume(bytes: number): void
  }
  maxBufferSize: number
  decode(buf: unknown): Iterable<unknown>
}

/** A Noise message's 2-byte big-endian length prefix. */
const PREFIX = 2

function isNoiseDecoder(value: unknown): value is NoiseDecoder {
  const d = value as Partial<NoiseDecoder> | undefined
  return typeof d?.decode === 'function' && typeof d.maxBufferSize === 'number' && d.buffer != null
}

/**
 * Gives the decoder of `secured` (the stream libp2p-noise returns) a `decode` that stops at an incomplete
 * length prefix instead of throwing and catching. Same messages, same order, same buffer limit. Another
 * encrypter's stream is left as it is.
 */
export function quietNoiseDecoder(secured: MessageStream): void {
  const decoder = (secured as MessageStream & { decoder?: unknown }).decoder
  if (!isNoiseDecoder(decoder)) return
  decoder.decode = function* (this: NoiseDecoder, buf: unknown) {
    const buffer = this.buffer
    buffer.append(buf)
    if (buffer.byteLength > this.maxBufferSize) {
      // the stock decoder's error for a peer that sends more than the buffer allows
      throw new InvalidParametersError(
        `Buffer length limit exceeded - ${buffer.byteLength}/${this.maxBufferSize}`
      )
    }
    while (buffer.byteLength >= PREFIX) {
      const length = (buffer.get(0) << 8) | buffer.get(1)
      const end = PREFIX + length
      if (buffer.byteLength < end) break
      const message = buffer.sublist(PREFIX, end)
      buffer.consume(end)
      if (message.byteLength > 0) yield message
    }
  }
}
