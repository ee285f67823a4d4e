/**
 * Fewer socket writes per stream and connection, carried as wrappers around the stock Noise and Yamux
 * (no patch to node_modules). Measured in a rush (docs/performance.md): a refused contact on an open
 * connection cost the merchant 5 Yamux frames, each its own ChaCha20-Poly1305 message and two socket
 * writes (the 2-byte Noise length, then the ciphertext).
 *
 * - `coalescingEncrypter`: the frames a connection sends in one turn of the event loop go out as one
 *   Noise message, and every message as one socket write. Same bytes to the peer's Yamux.
 * - `joiningGater` / `joinChunks`: the raw connection's sends of one turn leave as one write from its first
 *   byte, so multistream-select's plaintext choice of the encrypter (two lines) is one write too.
 * - `lazyWindowYamux`: a stream's receive window is topped up only once half of it is used (go-yamux's
 *   rule) and its ACK rides on its first frame, instead of a window-update frame after every data frame.
 */
import { YamuxStream, StreamState } from '@chainsafe/libp2p-yamux/stream'
import { Uint8ArrayList, isUint8ArrayList } from 'uint8arraylist'
import { quietNoiseDecoder } from './noise-decoder.ts'
import type {
  AbortOptions,
  ConnectionEncrypter,
  ConnectionGater,
  MessageStream,
  StreamMuxerFactory
} from '@libp2p/interface'

/** What the stock streams (AbstractMessageStream) have beyond the MessageStream interface. */
type WithWriteStatus = MessageStream & { writeStatus?: 'writable' | 'closing' | 'closed' }

/** The receive-window fields of a YamuxStream (private in its typings). */
interface WindowView {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
}

/** The stock send of one stream, before coalescing (called with the stream as `this`). */
type Send = MessageStream['send']

/**
 * Queues what is sent on `secure` during this turn and hands it over as one chunk on the next tick; the
 * queue is flushed first when it or a layer under it (`under`) closes, so nothing sent before a close is lost.
 */
export function coalesceSends(secure: WithWriteStatus, ...under: MessageStream[]): void {
  // another implementation of MessageStream: leave it as it is
  if (typeof secure.writeStatus !== 'string') return
  const send: Send = secure.send.bind(secure)
  let pending: Uint8ArrayList | undefined
  const flush = (): void => {
    const data = pending
    if (data == null) return
    pending = undefined
    // closed or reset meanwhile: unsent data is dropped, as the stream itself would
    if (secure.writeStatus !== 'writable' && secure.writeStatus !== 'closing') return
    try {
      send(data)
    } catch {
      // the stream aborted itself and reports that through its own events
    }
  }
  secure.send = (data) => {
    if (pending == null) {
      // not writable: the stock send throws or queues exactly as it would have
      if (secure.writeStatus !== 'writable') return send(data)
      pending = new Uint8ArrayList()
      process.nextTick(flush)
    }
    pending.append(data)
    return !secure.writableNeedsDrain
  }
  for (const stream of [secure, ...under]) {
    const close = stream.close.bind(stream)
    stream.close = async (options?: AbortOptions) => {
      flush()
      await close(options)
    }
  }
}

const JOINED = Symbol('taleus:joined-writes')

/** Chunks in a list (Noise and Yamux carry their own copy of uint8arraylist: no instanceof). */
function chunks(list: Uint8ArrayList): number {
  return (list as unknown as { bufs?: Uint8Array[] }).bufs?.length ?? 0
}

/**
 * One socket write per turn of the event loop: the transport writes each chunk of a list on its own, and
 * multistream-select's plaintext choice of the encrypter answers its two lines with two sends.
 */
export function joinChunks(raw: MessageStream): void {
  const marked = raw as MessageStream & { [JOINED]?: true }
  if (marked[JOINED] === true) return
  marked[JOINED] = true
  const send: Send = raw.send.bind(raw)
  raw.send = (data) => send(isUint8ArrayList(data) && chunks(data) > 1 ? data.subarray() : data)
  coalesceSends(raw)
}

/**
 * `gater` that also joins the chunks of every new connection's writes from its first byte on, so that
 * multistream-select's plaintext choice of the encrypter (a varint and a line per message) is one
 * write per message too: the gater is the one hook libp2p calls with the raw connection before that.
 */
export function joiningGater(gater: ConnectionGater): ConnectionGater {
  return {
    ...gater,
    denyInboundConnection: (maConn) => {
      joinChunks(maConn)
      return gater.denyInboundConnection?.(maConn) ?? false
    },
    denyOutboundConnection: (peerId, maConn) => {
      joinChunks(maConn)
      return gater.denyOutboundConnection?.(peerId, maConn) ?? false
    }
  }
}

/** `encrypter` (e.g. `noise()`) whose connections coalesce their sends (see above). */
export function coalescingEncrypter<C, E extends ConnectionEncrypter>(
  encrypter: (components: C) => E
): (components: C) => E {
  return (components) => {
    const inner = encrypter(components)
    // the stock encrypter's own protocol, capabilities and methods, two of them wrapped
    const outer: E = Object.create(inner)
    outer.secureInbound = async (connection, options) => {
      joinChunks(connection)
      const secured = await inner.secureInbound(connection, options)
      quietNoiseDecoder(secured.connection)
      coalesceSends(secured.connection, connection)
      return secured
    }
    outer.secureOutbound = async (connection, options) => {
      joinChunks(connection)
      const secured = await inner.secureOutbound(connection, options)
      quietNoiseDecoder(secured.connection)
      coalesceSends(secured.connection, connection)
      return secured
    }
    return outer
  }
}

const stockWindowUpdate = YamuxStream.prototype.sendWindowUpdate

/**
 * A window update only when one is due: half the receive window used, a paused stream resuming, or a
 * SYN to send (a new outbound stream). The ACK of an inbound stream goes with its first frame (the
 * spec allows a data or a window-update frame; libp2p answers every inbound stream at once with
 * multistream-select), or with the update once half its window is used, whichever comes first.
 */
function lazyWindowUpdate(this: YamuxStream): void {
  const view = this as unknown as WindowView
  const due = view.recvWindowCapacity * 2 <= view.recvWindow
  if (!due && (view.state === StreamState.Established || view.state === StreamState.SYNReceived)) return
  stockWindowUpdate.call(this)
}

/**
 * `muxer` with `adapt` run on each stream muxer it creates (one per connection), before it is used: the
 * seam for carried changes to a muxer's streams that no option reaches.
 */
export function adaptStreamMuxers<C, M extends StreamMuxerFactory>(
  muxer: (components: C) => M,
  adapt: (created: ReturnType<M['createStreamMuxer']>) => void
): (components: C) => M {
  return (components) => {
    const inner = muxer(components)
    const outer: M = Object.create(inner)
    outer.createStreamMuxer = (maConn) => {
      const created = inner.createStreamMuxer(maConn) as ReturnType<M['createStreamMuxer']>
      adapt(created)
      return created
    }
    return outer
  }
}

/** `muxer` (`yamux()`) whose streams send window updates only when due (see above). */
export function lazyWindowYamux<C, M extends StreamMuxerFactory>(
  muxer: (components: C) => M
): (components: C) => M {
  return adaptStreamMuxers(muxer, (created) => {
    const target = created as unknown as { _newStream: (...args: unknown[]) => YamuxStream }
    const newStream = target._newStream.bind(created)
    target._newStream = (...args) => {
      const stream = newStream(...args)
      stream.sendWindowUpdate = lazyWindowUpdate
      return stream
    }
  })
}
