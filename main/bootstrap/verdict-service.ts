/**
 * VerdictService: the recovery exchange of the Taleus protocol family (`/taleus/verdict/1.0.0`). A party
 * whose tally is `pending` (it committed, then lost the end of the bootstrap) asks the other party for its
 * verdict; the answerer tells only the tally's own counterparty, identified by the authenticated remote
 * peer of the connection (Noise proves it holds that peer id's private key). See docs/protocol.md.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { lengthPrefixed } from './length-prefix.ts'
import type { AbortOptions, Connection, Libp2p, Stream } from '@libp2p/interface'
import { raceSignal } from './abort.ts'
import { BadMessageError } from './errors.ts'
import { MAX_VERDICT_FRAME_BYTES, decodeVerdictMessage, encodeVerdictMessage } from './verdict-messages.ts'
import type { VerdictMessage, VerdictStatus } from './verdict-messages.ts'

/** Wire protocol id of the verdict exchange. */
export const VERDICT_PROTOCOL_ID = '/taleus/verdict/1.0.0'

/** Defaults of VerdictServiceInit, filled once. */
export const DEFAULT_VERDICT_CONFIG = {
  timeoutMs: 5_000,
  maxInboundStreams: 8,
  maxOutboundStreams: 64
} as const

/** The one refusal: the same bytes for an unknown tally and for a tally the asker is no party to. */
const REFUSED: VerdictMessage = { type: 'VerdictRefused' }

/** What an answer means to the asker: the other party's status, or `refused` (it holds no such tally with us). */
export type VerdictAnswer = VerdictStatus | 'refused'

/** The application's side: look a tally up for the peer asking. */
export interface VerdictHooks {
  /**
   * Our status of `tallyId` when `remotePeerId` (authenticated) is its counterparty; undefined when there is
   * no such tally or the asker is not its counterparty (answered alike). Throwing resets the stream
   * (never a refusal: the asker would take a refusal for "never confirmed").
   */
  lookupVerdict(
    tallyId: string,
    remotePeerId: string,
    options: AbortOptions
  ): Promise<VerdictStatus | undefined>
}

/** Options of a VerdictService. */
export interface VerdictServiceInit {
  /** Deadline of one exchange (read, look-up, write), either side. Default 5 000. */
  timeoutMs?: number
  /** Verdict streams one connection may hold open at once. Default 8. */
  maxInboundStreams?: number
  /** Verdict streams we may open on one connection at once. Default 64. */
  maxOutboundStreams?: number
}

/** Where to reach the party to ask: its peer id, and addresses to dial if not connected. */
export interface VerdictTarget {
  peerId: string
  /** Multiaddrs of that peer (its cadre); those naming another /p2p/ peer are ignored. */
  addrs?: string[]
}

/** The party to ask could not be reached at any address. */
export class VerdictUnreachableError extends Error {
  override name = 'VerdictUnreachableError'
  constructor(message = 'could not reach the other party', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The answer was malformed, for another tally, or the stream ended before one came. */
export class VerdictProtocolError extends Error {
  override name = 'VerdictProtocolError'
}

/** Answers verdict queries on a node and asks other nodes. */
export class VerdictService {
  private readonly hooks: VerdictHooks
  private readonly config: Required<VerdictServiceInit>
  private node?: Libp2p
  private stopController = new AbortController()
  private readonly running = new Set<Promise<unknown>>()

  constructor(hooks: VerdictHooks, init: VerdictServiceInit = {}) {
    this.hooks = hooks
    this.config = {
      timeoutMs: init.timeoutMs ?? DEFAULT_VERDICT_CONFIG.timeoutMs,
      maxInboundStreams: init.maxInboundStreams ?? DEFAULT_VERDICT_CONFIG.maxInboundStreams,
      maxOutboundStreams: init.maxOutboundStreams ?? DEFAULT_VERDICT_CONFIG.maxOutboundStreams
    }
  }

  /** Registers the answering handler on `node`. */
  async start(node: Libp2p): Promise<void> {
    this.node = node
    await node.handle(VERDICT_PROTOCOL_ID, (stream, connection) => this.handleStream(stream, connection), {
      maxInboundStreams: this.config.maxInboundStreams,
      maxOutboundStreams: this.config.maxOutboundStreams
    })
  }

  /** Unregisters the handler and ends the exchanges in flight. */
  async stop(): Promise<void> {
    try {
      await this.node?.unhandle(VERDICT_PROTOCOL_ID)
    } catch {
      // the node may already be stopped
    }
    this.stopController.abort(new Error('the verdict service stopped'))
    await Promise.allSettled([...this.running])
    this.stopController = new AbortController()
  }

  /** Answers one query on `stream`; never rejects (any failure resets the stream). */
  async handleStream(stream: Stream, connection: Connection): Promise<void> {
    const work = this.answer(stream, connection.remotePeer.toString())
    this.running.add(work)
    try {
      await work
    } finally {
      this.running.delete(work)
    }
  }

  private async answer(stream: Stream, asker: string): Promise<void> {
    const signal = this.signal()
    const lp = lengthPrefixed(stream, MAX_VERDICT_FRAME_BYTES)
    try {
      const query = decodeVerdictMessage((await lp.read({ signal })).subarray())
      if (query.type !== 'VerdictQuery') throw new BadMessageError(`unexpected ${query.type}`)
      const status = await raceSignal(
        Promise.resolve().then(() => this.hooks.lookupVerdict(query.tallyId, asker, { signal })),
        signal,
        () => new Error('the verdict look-up ran out of time')
      )
      const answer: VerdictMessage =
        status === undefined ? REFUSED : { type: 'Verdict', tallyId: query.tallyId, status }
      await lp.write(encodeVerdictMessage(answer), { signal })
      await stream.close({ signal })
    } catch (err) {
      if (stream.status === 'open' || stream.status === 'closing') stream.abort(err as Error)
    }
  }

  /**
   * Asks `target` for its verdict on `tallyId` over `node`. Resolves with its status or `refused`; throws
   * VerdictUnreachableError when it cannot be dialled, VerdictProtocolError on a bad or missing answer, or
   * the signal's reason when aborted. Asking changes nothing on either side: ask as often as needed.
   */
  async ask(
    node: Libp2p,
    target: VerdictTarget,
    tallyId: string,
    options: AbortOptions = {}
  ): Promise<VerdictAnswer> {
    const signal = this.signal(options.signal)
    const stream = await this.open(node, target, signal)
    const lp = lengthPrefixed(stream, MAX_VERDICT_FRAME_BYTES)
    try {
      await lp.write(encodeVerdictMessage({ type: 'VerdictQuery', tallyId }), { signal })
      await stream.close({ signal })
      let answer: VerdictMessage
      try {
        answer = decodeVerdictMessage((await lp.read({ signal })).subarray())
      } catch (err) {
        if (signal.aborted) throw err
        throw new VerdictProtocolError('no valid answer', { cause: err })
      }
      if (answer.type === 'VerdictRefused') return 'refused'
      if (answer.type !== 'Verdict' || answer.tallyId !== tallyId)
        throw new VerdictProtocolError('an answer about something else')
      return answer.status
    } catch (err) {
      if (stream.status === 'open' || stream.status === 'closing') stream.abort(err as Error)
      if (signal.aborted) throw signal.reason
      if (err instanceof VerdictProtocolError) throw err
      throw new VerdictProtocolError('the exchange failed', { cause: err })
    }
  }

  private async open(node: Libp2p, target: VerdictTarget, signal: AbortSignal): Promise<Stream> {
    const peer = peerIdFromString(target.peerId)
    const suffix = `/p2p/${target.peerId}`
    const addrs = (target.addrs ?? []).filter((a) => !a.includes('/p2p/') || a.endsWith(suffix))
    const errors: unknown[] = []
    // an open connection first, then each address: the party may have moved since it gave them
    const tries = node.getConnections(peer).length > 0 || addrs.length === 0 ? [peer, ...addrs] : addrs
    for (const addr of tries) {
      try {
        const dialTarget =
          typeof addr === 'string' ? multiaddr(addr.endsWith(suffix) ? addr : `${addr}${suffix}`) : addr
        return await node.dialProtocol(dialTarget, VERDICT_PROTOCOL_ID, {
          signal,
          maxOutboundStreams: this.config.maxOutboundStreams
        })
      } catch (err) {
        if (signal.aborted) throw signal.reason
        errors.push(err)
      }
    }
    throw new VerdictUnreachableError(undefined, { cause: new AggregateError(errors) })
  }

  /** The exchange's deadline, also ended by stop() and by the caller's signal. */
  private signal(caller?: AbortSignal): AbortSignal {
    const signals = [AbortSignal.timeout(this.config.timeoutMs), this.stopController.signal]
    if (caller != null) signals.push(caller)
    return AbortSignal.any(signals)
  }
}
