/**
 * Optimistic protocol selection, as `@libp2p/interface` documents `negotiateFully: false` and libp2p
 * 3.3.11 does not implement it (its option is declared, then ignored): an outbound stream opened for one
 * protocol with `negotiateFully: false` sends multistream-select's proposal and goes straight on to its
 * first data, in the same message, instead of waiting a round trip for the echo. The listener needs
 * nothing new: stock `handle` reads the proposal, echoes it and leaves the data that followed for the
 * handler. The echo is checked and taken out of what the stream reads; a listener that answers anything
 * else (`na`: it does not speak the protocol) fails the stream with UnsupportedProtocolError, at the
 * caller's first read, and the caller negotiates in full on a new stream (docs/performance.md, K).
 *
 * Upstream this belongs in libp2p's `Connection.newStream` (multistream-select's old `lazySelect`).
 */
import { UnsupportedProtocolError } from '@libp2p/interface'
import type { CreateStreamOptions, Stream, StreamMuxerFactory } from '@libp2p/interface'
import { encode } from 'uint8-varint'
import type { Uint8ArrayList } from 'uint8arraylist'
import { adaptStreamMuxers } from './wire.ts'

/** multistream-select's own protocol id, the first line of every proposal and echo. */
const MULTISTREAM_ID = '/multistream/1.0.0'

/** Longest protocol id multistream-select accepts (its MAX_PROTOCOL_LENGTH). */
const MAX_PROTOCOL_LENGTH = 1024

/** One multistream-select message: the line and its newline, after its length as an unsigned varint. */
function selectMessage(line: string): Uint8Array {
  const body = new TextEncoder().encode(`${line}\n`)
  const prefix = encode(body.byteLength)
  const out = new Uint8Array(prefix.byteLength + body.byteLength)
  out.set(prefix)
  out.set(body, prefix.byteLength)
  return out
}

/** The proposal of `protocol` (multistream's id, then the protocol), which a listener that agrees echoes. */
export function selectProposal(protocol: string): Uint8Array {
  const header = selectMessage(MULTISTREAM_ID)
  const line = selectMessage(protocol)
  const proposal = new Uint8Array(header.byteLength + line.byteLength)
  proposal.set(header)
  proposal.set(line, header.byteLength)
  return proposal
}

/** The stock stream's intake of received bytes (AbstractMessageStream.onData), replaced per stream here. */
interface DataIntake {
  onData(data: Uint8Array | Uint8ArrayList): void
}

/**
 * Proposes `protocol` on the new outbound `stream` now, marks the stream as speaking it, and takes the
 * listener's echo out of what arrives; anything but the echo fails the stream with UnsupportedProtocolError.
 */
export function selectOptimistically(stream: Stream, protocol: string): void {
  const echo = selectProposal(protocol)
  const intake = stream as unknown as DataIntake
  const deliver = intake.onData
  let matched = 0
  intake.onData = function (this: Stream, data) {
    if (matched < 0) return
    const bytes = data.subarray()
    let i = 0
    while (i < bytes.byteLength && matched < echo.byteLength) {
      if (bytes[i] !== echo[matched]) {
        matched = -1
        this.abort(new UnsupportedProtocolError(`the peer does not speak ${protocol}`))
        return
      }
      i++
      matched++
    }
    if (matched < echo.byteLength) return
    // echo complete: from here the stream reads as the stock one does
    delete (this as unknown as Partial<DataIntake>).onData
    if (i < bytes.byteLength) deliver.call(this, bytes.subarray(i))
  }
  stream.protocol = protocol
  stream.send(echo)
}

/** Options of Connection.newStream as libp2p hands them to the muxer (it spreads the caller's options). */
type OutboundStreamOptions = CreateStreamOptions & { negotiateFully?: boolean }

/**
 * `muxer` whose outbound streams opened for one protocol with `negotiateFully: false` select it
 * optimistically (see above); every other stream negotiates as before.
 */
export function optimisticSelectMuxer<C, M extends StreamMuxerFactory>(
  muxer: (components: C) => M
): (components: C) => M {
  return adaptStreamMuxers(muxer, (created) => {
    const createStream = created.createStream.bind(created)
    created.createStream = async (options?: OutboundStreamOptions) => {
      const stream = await createStream(options)
      const protocol = options?.protocol
      if (
        options?.negotiateFully === false &&
        typeof protocol === 'string' &&
        protocol.length > 0 &&
        protocol.length < MAX_PROTOCOL_LENGTH &&
        stream.protocol === ''
      )
        selectOptimistically(stream, protocol)
      return stream
    }
  })
}
