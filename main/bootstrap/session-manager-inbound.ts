/** The inbound streams a SessionManager is handed: both handler forms, and the `busy` refusal. */
import type { Connection, Stream } from '@libp2p/interface'
import { timeoutSignal } from './abort.ts'
import { InvalidStreamError } from './errors.ts'
import { FrameStream } from './frames.ts'

/** What libp2p 2 (and the seed's usage) hand a protocol handler: `{ stream, connection }`. */
export interface IncomingStreamData {
  stream: Stream
  connection: Connection
}

/** The (stream, connection) of a handler call in either form; throws InvalidStreamError otherwise. */
export function incomingStream(
  first: Stream | IncomingStreamData | undefined,
  connection: Connection | undefined
): IncomingStreamData {
  const data = first as Partial<IncomingStreamData> | undefined
  // the seed's `({ stream }) => handleNewStream(stream)` under libp2p 3 passes `stream.stream`: undefined
  if (first == null) throw new InvalidStreamError('handleNewStream was called without a stream')
  if (data?.stream != null && data.connection != null && connection == null) {
    return { stream: data.stream, connection: data.connection }
  }
  if (connection == null || connection.remotePeer == null) {
    throw new InvalidStreamError(
      'handleNewStream needs the connection too: pass (stream, connection) as libp2p 3 gives them'
    )
  }
  return { stream: first as Stream, connection }
}

/** The stream in a handler's arguments, whatever their shape (so a call we cannot serve can still be refused). */
export function streamIn(first: Stream | IncomingStreamData | undefined): Stream | undefined {
  const isStream = (s: unknown): s is Stream => typeof (s as Partial<Stream> | null)?.abort === 'function'
  if (isStream(first)) return first
  const inner = (first as Partial<IncomingStreamData> | undefined)?.stream
  return isStream(inner) ? inner : undefined
}

/** Over the cap: refuse at once with `busy`, reading nothing; not a session. */
export async function refuseBusy(stream: Stream, stepTimeoutMs: number): Promise<void> {
  const frames = new FrameStream(stream)
  // a plain timer stopped at once: a flood of busy answers leaves no timer behind (abort.ts)
  const scope = timeoutSignal(stepTimeoutMs)
  const { signal } = scope
  try {
    await frames.write({ type: 'ProvisioningResult', approved: false, reason: 'busy' }, { signal })
    await frames.closeWrite({ signal })
  } catch (err) {
    frames.abort(err as Error)
  } finally {
    scope.clear()
  }
}
