/**
 * Raw protocol peers for tests that must see (or forge) the exact frames: a dialer-side client that
 * writes arbitrary frame bodies and records every byte A sends back, and a listener-side capture that
 * records what a real dialer sends first.
 */
import { lpStream } from '@libp2p/utils'
import type { Libp2p, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { PROTOCOL_ID } from '../../main/bootstrap/index.ts'

/** One frame as received: its exact text and, when it is JSON, the parsed object. */
export interface RawFrame {
  text: string
  json?: Record<string, unknown>
}

/** How the peer ended its side after the frames we read. */
export type RawEnd = 'eof' | 'reset' | 'timeout'

/** A raw client stream to A's bootstrap protocol. */
export interface RawClient {
  readonly stream: Stream
  /** Writes one frame: a string or object is sent as JSON/UTF-8 text, bytes as they are. */
  send(body: unknown): Promise<void>
  /** Reads the next frame, or how the stream ended (bounded by `timeoutMs`). */
  read(timeoutMs?: number): Promise<RawFrame | RawEnd>
  /** Reads frames until the stream ends; returns them and how it ended. */
  readAll(timeoutMs?: number): Promise<{ frames: RawFrame[]; end: RawEnd }>
  close(): Promise<void>
}

const decoder = new TextDecoder()

/** UTF-8 bytes of `value` (JSON-encoded unless already a string or bytes). */
export function frameBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value
  return new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value))
}

function toFrame(bytes: Uint8Array): RawFrame {
  const text = decoder.decode(bytes)
  try {
    return { text, json: JSON.parse(text) as Record<string, unknown> }
  } catch {
    return { text }
  }
}

/** Opens a raw bootstrap stream from `from` to `addr` (a multiaddr ending in /p2p/<A>). */
export async function rawClient(from: Libp2p, addr: string): Promise<RawClient> {
  const stream = await from.dialProtocol(multiaddr(addr), PROTOCOL_ID, {
    signal: AbortSignal.timeout(10_000)
  })
  // larger than the protocol's limit, so an oversize frame from A would be seen, not refused here
  const lp = lpStream(stream, { maxDataLength: 1024 * 1024 })
  const read = async (timeoutMs = 10_000): Promise<RawFrame | RawEnd> => {
    const signal = AbortSignal.timeout(timeoutMs)
    try {
      return toFrame((await lp.read({ signal })).subarray())
    } catch (err) {
      if (signal.aborted) return 'timeout'
      const reset = stream.status === 'reset' || stream.status === 'aborted'
      return (err as Error).name === 'UnexpectedEOFError' && !reset ? 'eof' : 'reset'
    }
  }
  return {
    stream,
    async send(body) {
      await lp.write(frameBytes(body), { signal: AbortSignal.timeout(10_000) })
    },
    read,
    async readAll(timeoutMs = 10_000) {
      const frames: RawFrame[] = []
      for (;;) {
        const next = await read(timeoutMs)
        if (typeof next === 'string') return { frames, end: next }
        frames.push(next)
      }
    },
    async close() {
      try {
        await stream.close({ signal: AbortSignal.timeout(2000) })
      } catch {
        stream.abort(new Error('test client closed'))
      }
    }
  }
}

/**
 * Makes `node` answer the bootstrap protocol by hand: records the first frame each dialer sends, then
 * replies with `reply` (or nothing) and closes. Returns the captured frames, in arrival order.
 */
export async function captureFirstFrames(node: Libp2p, reply?: Record<string, unknown>): Promise<RawFrame[]> {
  const captured: RawFrame[] = []
  await node.handle(PROTOCOL_ID, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 1024 * 1024 })
    try {
      captured.push(toFrame((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray()))
      if (reply != null) await lp.write(frameBytes(reply), { signal: AbortSignal.timeout(10_000) })
      await stream.close({ signal: AbortSignal.timeout(2000) })
    } catch (err) {
      stream.abort(err as Error)
    }
  })
  return captured
}
