/**
 * One bootstrap's frames over one libp2p stream: unsigned-varint length + UTF-8 JSON (lpStream),
 * at most MAX_FRAME_BYTES each, each read expecting the message types its state allows.
 */
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { AbortOptions, Stream } from '@libp2p/interface'
import { BadMessageError, StreamClosedError } from './errors.ts'
import { lengthPrefixed } from './length-prefix.ts'
import { carriesDocument, carriesSeed, decodeMessage, encodeMessage, withoutDocument } from './messages.ts'
import type { Message, MessageOf, MessageType } from './messages.ts'
import { MAX_FRAME_BYTES, PROTOCOL_ID_V1_0, PROTOCOL_ID_V1_1, PROTOCOL_ID_V1_2 } from './types.ts'

const OVERSIZE_ERRORS = new Set([
  'InvalidDataLengthError',
  'InvalidDataLengthLengthError',
  'InvalidMessageLengthError'
])

/** Reads and writes validated protocol messages on one stream. */
export class FrameStream {
  private readonly lp: LengthPrefixedStream<Stream>
  /** The peer closed its writing side on this stream (a FIN), as opposed to the connection dying. */
  private remoteClosedWrite = false
  /** Negotiated as 1.0.0: that version's frames have no `dbConnectionInfo.document`, either way. */
  private readonly v1_0: boolean
  /** Negotiated before 1.3.0: a document travels as bytes, never as a seed. */
  private readonly seedless: boolean

  constructor(readonly stream: Stream) {
    this.lp = lengthPrefixed(stream, MAX_FRAME_BYTES)
    this.v1_0 = stream.protocol === PROTOCOL_ID_V1_0
    this.seedless = [PROTOCOL_ID_V1_0, PROTOCOL_ID_V1_1, PROTOCOL_ID_V1_2].includes(stream.protocol)
    stream.addEventListener(
      'remoteCloseWrite',
      () => {
        this.remoteClosedWrite = true
      },
      { once: true }
    )
  }

  /** True once the peer closed its writing side: it will send nothing more on this stream. */
  get remoteClosed(): boolean {
    return this.remoteClosedWrite
  }

  /**
   * Calls `fn` once when the peer closes its writing side (at once if it already has); returns the
   * unsubscribe. A peer that half-closes while A waits for an operator has left: nothing it could still
   * send would let the bootstrap finish.
   */
  onRemoteClose(fn: () => void): () => void {
    if (this.remoteClosedWrite) {
      fn()
      return () => {}
    }
    this.stream.addEventListener('remoteCloseWrite', fn, { once: true })
    return () => this.stream.removeEventListener('remoteCloseWrite', fn)
  }

  /** Reads the next frame; it must be one of `expected`, else BadMessageError. */
  async read<T extends MessageType>(expected: readonly T[], options: AbortOptions): Promise<MessageOf<T>> {
    let body
    try {
      body = await this.lp.read(options)
    } catch (err) {
      throw this.translate(err, options)
    }
    const message = decodeMessage(body.subarray())
    if (this.v1_0 && carriesDocument(message)) throw new BadMessageError('a 1.0.0 frame carries no document')
    if (this.seedless && carriesSeed(message))
      throw new BadMessageError('a frame before 1.3.0 carries no document seed')
    if (!(expected as readonly string[]).includes(message.type)) {
      throw new BadMessageError(`unexpected ${message.type}`)
    }
    return message as MessageOf<T>
  }

  /**
   * Validates and writes one message, without the fields the peer's version lacks (a 1.0.0 peer gets no
   * document, an older one no seed: it then opens the document with the grant).
   */
  async write(message: Message, options: AbortOptions): Promise<void> {
    const strip = this.v1_0 || (this.seedless && carriesSeed(message))
    const body = encodeMessage(strip ? withoutDocument(message) : message)
    try {
      await this.lp.write(body, options)
    } catch (err) {
      throw this.translate(err, options)
    }
  }

  /**
   * Waits for the remote's clean close of its writing side (EOF). A reset, or any further frame,
   * is not a clean end: StreamClosedError / BadMessageError.
   */
  async readEnd(options: AbortOptions): Promise<void> {
    try {
      await this.lp.read(options)
    } catch (err) {
      if ((err as Error)?.name === 'UnexpectedEOFError' && this.isCleanlyEnded()) return
      throw this.translate(err, options)
    }
    throw new BadMessageError('unexpected frame after the last message')
  }

  /** Closes our writing side (the clean end the peer waits for); aborts the stream if that fails. */
  async closeWrite(options: AbortOptions): Promise<void> {
    try {
      await this.stream.close(options)
    } catch (err) {
      this.stream.abort(err as Error)
    }
  }

  /** Resets the stream so the peer sees an error at once. */
  abort(err: Error): void {
    if (this.stream.status === 'open' || this.stream.status === 'closing') this.stream.abort(err)
  }

  private isCleanlyEnded(): boolean {
    // a connection that drops (the peer's process killed: TCP FIN) also ends the stream without a reset;
    // only the peer's own close of this stream is its word that it confirmed
    return this.remoteClosedWrite && this.stream.status !== 'reset' && this.stream.status !== 'aborted'
  }

  private translate(err: unknown, options: AbortOptions): Error {
    // a deadline or a stop: the caller reports it from its own signal
    if (options.signal?.aborted === true) return err as Error
    const name = (err as Error | null)?.name ?? ''
    if (OVERSIZE_ERRORS.has(name)) return new BadMessageError('frame too large', { cause: err })
    if (err instanceof BadMessageError) return err
    return new StreamClosedError(undefined, { cause: err })
  }
}
