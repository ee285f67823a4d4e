/** One TALLYDB_PROTOCOL stream with one remote peer, and the frames it carries. */
import { cbor } from '@automerge/automerge-repo/slim'
import type { DocumentId, Message, PeerId as RepoPeerId, PeerMetadata } from '@automerge/automerge-repo/slim'
import type { Connection, Stream } from '@libp2p/interface'
import { lengthPrefixed } from '../bootstrap/length-prefix.ts'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { Opened } from './adapter-types.ts'

/** A frame on a channel: the hellos, automerge-repo's messages, and open requests and their answers. */
export type Frame =
  | { t: 'hello'; peerId: string; meta?: PeerMetadata }
  | { t: 'msg'; m: Message }
  | { t: 'open'; id: number; tallyId: string; grant: string }
  | { t: 'opened'; id: number; documentId: DocumentId; doc?: Uint8Array }
  | { t: 'refused'; id: number }

/** One stream with one remote peer. */
export class Channel {
  readonly lp: LengthPrefixedStream<Stream>
  /** The remote repo's peer id, once its hello arrived. */
  repoPeerId: RepoPeerId | undefined
  meta: PeerMetadata = {}
  /** Documents this channel carries. */
  readonly allowed = new Set<DocumentId>()
  readonly pending = new Map<number, { resolve(opened: Opened): void; reject(err: Error): void }>()
  refusals = 0
  announced = false
  closed = false
  /** When the stream was adopted (performance.now()): two channels this close together were opened at once. */
  readonly openedAt = performance.now()
  #nextId = 1
  #writes: Promise<void> = Promise.resolve()
  #watchdog: ReturnType<typeof setTimeout> | undefined

  /** The remote peer's PeerId (the connection's, authenticated). */
  readonly remotePeer: string

  constructor(
    readonly stream: Stream,
    /** The connection the stream runs on. */
    readonly connection: Pick<Connection, 'status' | 'remotePeer'>,
    readonly outbound: boolean,
    maxFrameBytes: number
  ) {
    this.remotePeer = connection.remotePeer.toString()
    this.lp = lengthPrefixed(stream, maxFrameBytes)
  }

  /** Run `check` once after `ms` (replacing any earlier watch); undefined: stop watching. */
  watch(ms: number | undefined, check?: () => void): void {
    clearTimeout(this.#watchdog)
    this.#watchdog = undefined
    if (ms === undefined || check === undefined || this.closed) return
    this.#watchdog = setTimeout(check, ms)
    this.#watchdog.unref?.()
  }

  nextId(): number {
    return this.#nextId++
  }

  /** Queue a frame (or its encoding); writes keep their order, a failed write resets the stream. */
  write(frame: Frame | Uint8Array): void {
    if (this.closed) return
    const body = frame instanceof Uint8Array ? frame : cbor.encode(frame)
    this.#writes = this.#writes
      .then(async () => {
        if (!this.closed) await this.lp.write(body)
      })
      .catch((err: unknown) => {
        this.stream.abort(err instanceof Error ? err : new Error(String(err)))
      })
  }
}
