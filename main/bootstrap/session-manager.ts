/**
 * SessionManager: runs every bootstrap session of one node — listener sessions for inbound streams,
 * dialer sessions for links — with a shared cap, deadlines, and one `session` event per transition.
 */
import { randomUUID } from 'node:crypto'
import { TypedEventEmitter, setMaxListeners } from 'main-event'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { DialerSession } from './dialer-session.ts'
import { Deadline, isTimeoutReason } from './abort.ts'
import { AbuseGuard } from './abuse-guard.ts'
import type { AbuseLimits, RefusalCounts } from './abuse-guard.ts'
import { BootstrapError, InvalidStreamError, NodeNotStartedError, StreamClosedError } from './errors.ts'
import { FairSlots } from './fair-slots.ts'
import { dialTarget } from './link.ts'
import { ListenerSession } from './listener-session.ts'
import { LIMITS } from './messages.ts'
import { ipKey } from './rate-limit.ts'
import { SessionAbortedError, SessionStoppedError } from './session-base.ts'
import type { SessionDeps } from './session-base.ts'
import { isTerminalState } from './states.ts'
import { PROTOCOL_IDS } from './types.ts'
import type {
  BootstrapLink,
  BootstrapResult,
  SessionEvent,
  SessionHooks,
  SessionManagerConfig
} from './types.ts'
import { PendingContacts } from './pending-contacts.ts'
import { incomingStream, refuseBusy, streamIn } from './session-manager-inbound.ts'
import type { IncomingStreamData } from './session-manager-inbound.ts'
import {
  DEFAULT_SESSION_CONFIG,
  MAX_INBOUND_STREAMS,
  MAX_PENDING_CONTACTS
} from './session-manager-config.ts'
import type {
  InitiateBootstrapOptions,
  SessionFilter,
  SessionManagerEvents,
  SessionManagerInit
} from './session-manager-config.ts'

export {
  DEFAULT_SESSION_CONFIG,
  MAX_INBOUND_STREAMS,
  MAX_PENDING_CONTACTS
} from './session-manager-config.ts'
export type {
  InitiateBootstrapOptions,
  SessionFilter,
  SessionManagerEvents,
  SessionManagerInit
} from './session-manager-config.ts'
export type { IncomingStreamData } from './session-manager-inbound.ts'

/** Coordinates listener and dialer sessions of one node. */
export class SessionManager extends TypedEventEmitter<SessionManagerEvents> {
  /** The effective configuration (defaults filled). */
  readonly config: SessionManagerConfig
  private readonly hooks: SessionHooks
  private readonly localPeerId?: string
  private node?: Libp2p
  private stopController = new AbortController()
  private readonly listeners = new Map<string, ListenerSession>()
  private readonly dialers = new Map<string, DialerSession>()
  private readonly running = new Set<Promise<unknown>>()
  private readonly pendingLogs = new Set<Promise<unknown>>()
  /** Listener sessions whose contact has not arrived yet (not counted as engaged). */
  private readonly pending = new PendingContacts()
  private readonly maxPendingContacts: number
  private readonly guard: AbuseGuard
  /** Listener sessions past their contact, per remote peer. */
  private readonly slots = new FairSlots((sessionId) => this.listeners.get(sessionId))

  constructor(hooks: SessionHooks, init: SessionManagerInit = {}) {
    super()
    const { localPeerId, maxPendingContacts, abuseLimits, ...config } = init
    this.hooks = hooks
    this.guard = new AbuseGuard(abuseLimits)
    this.localPeerId = localPeerId
    this.maxPendingContacts = Math.max(1, maxPendingContacts ?? MAX_PENDING_CONTACTS)
    this.config = {
      ...config,
      sessionTimeoutMs: config.sessionTimeoutMs ?? DEFAULT_SESSION_CONFIG.sessionTimeoutMs,
      stepTimeoutMs: config.stepTimeoutMs ?? DEFAULT_SESSION_CONFIG.stepTimeoutMs,
      maxConcurrentSessions: config.maxConcurrentSessions ?? DEFAULT_SESSION_CONFIG.maxConcurrentSessions,
      dialTimeoutMs: config.dialTimeoutMs ?? DEFAULT_SESSION_CONFIG.dialTimeoutMs,
      identityBundle: config.identityBundle ?? {}
    }
    setMaxListeners(Infinity, this.stopController.signal)
  }

  /** Registers the protocol handler on `node` for every version it speaks (with raised stream caps). */
  async start(node: Libp2p): Promise<void> {
    this.node = node
    await node.handle([...PROTOCOL_IDS], (stream, connection) => this.handleNewStream(stream, connection), {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      maxOutboundStreams: MAX_INBOUND_STREAMS
    })
  }

  /** Unregisters the handler, aborts every running session and waits until all have ended. */
  async stop(): Promise<void> {
    const node = this.node
    if (node != null) {
      try {
        await node.unhandle([...PROTOCOL_IDS])
      } catch {
        // the node may already be stopped
      }
    }
    this.stopController.abort(new SessionStoppedError())
    await Promise.allSettled([...this.running])
    await Promise.allSettled([...this.pendingLogs])
    this.stopController = new AbortController()
    setMaxListeners(Infinity, this.stopController.signal)
  }

  /** Sessions currently answering inbound contacts. */
  getActiveListenerCount(): number {
    return this.listeners.size
  }

  /** Contacts answered `busy` by the abuse limits so far, by cause (kept in memory only, never audited one by one). */
  getRefusalCounts(): RefusalCounts {
    return this.guard.refusalCounts()
  }

  /** The abuse limits in force (defaults filled). */
  get abuseLimits(): AbuseLimits {
    return this.guard.limits
  }

  /**
   * Ends the running listener sessions that match `filter` with `reason` (e.g. RejectedError('token-revoked')
   * after a revoke): each tells B, abandons its draft and gives its token use back. A session already
   * confirming (B's Ack in) is left to finish. Returns how many were ended.
   */
  abortSessions(filter: SessionFilter, reason: BootstrapError): number {
    let ended = 0
    for (const session of this.listeners.values()) {
      if (filter.tokenId != null && session.acceptedTokenId !== filter.tokenId) continue
      if (session.abort(reason)) ended++
    }
    return ended
  }

  /** Sessions currently dialling out. */
  getActiveDialerCount(): number {
    return this.dialers.size
  }

  /**
   * libp2p stream handler: runs one listener session; resolves when it ends, never rejects. Takes libp2p 3's
   * `(stream, connection)` or the seed's (libp2p 2) `{ stream, connection }`. A call it cannot serve refuses
   * the stream (if there is one) and emits `stream-error`.
   */
  async handleNewStream(streamOrData: Stream | IncomingStreamData, connection?: Connection): Promise<void> {
    // known before the arguments are checked: a call we cannot serve still refuses its stream
    const stream = streamIn(streamOrData)
    try {
      const incoming = incomingStream(streamOrData, connection)
      const localPeerId = this.node?.peerId.toString() ?? this.localPeerId
      if (localPeerId == null) {
        throw new InvalidStreamError(
          'the session manager does not know its own peer id: call start(node), or pass localPeerId'
        )
      }
      await this.runInbound(incoming.stream, incoming.connection, localPeerId)
    } catch (err) {
      const error =
        err instanceof InvalidStreamError
          ? err
          : new InvalidStreamError('the inbound stream could not be served', { cause: err })
      try {
        stream?.abort(error)
      } catch {
        // not a stream after all
      }
      this.safeDispatchEvent('stream-error', { detail: error })
    }
  }

  private async runInbound(stream: Stream, connection: Connection, localPeerId: string): Promise<void> {
    const peer = connection.remotePeer.toString()
    const ip = ipKey(connection.remoteAddr)
    // abuse bounds first, before any hook, event or disk write: a refused flood costs a counter
    const refusal =
      this.guard.checkStream(peer, ip, this.slots.held(peer)) ??
      (this.engagedCount() >= this.config.maxConcurrentSessions && !this.slots.canMakeRoomFor(peer)
        ? 'capacity'
        : undefined)
    if (refusal != null) {
      this.guard.refused(refusal)
      await this.track(refuseBusy(stream, this.config.stepTimeoutMs))
      return
    }
    if (this.pending.size >= this.maxPendingContacts) this.pending.evictIdle((id) => this.listeners.get(id))
    const sessionId = randomUUID()
    const deadline = new Deadline(this.config.sessionTimeoutMs)
    // the session ends as soon as the peer is gone: a reset or closed stream, or a closed connection,
    // also while a hook or the operator is being waited for (no ghost session, no ghost approval)
    const left = (): void => deadline.abort(new StreamClosedError('the other party left'))
    stream.addEventListener('close', left, { once: true })
    connection.addEventListener('close', left, { once: true })
    const deps = this.deps(this.sessionSignal(deadline), deadline)
    deps.abort = (reason) => deadline.abort(reason)
    const session: ListenerSession = new ListenerSession(
      {
        sessionId,
        stream,
        remotePeerId: connection.remotePeer.toString(),
        localPeerId,
        cadrePeerAddrs: this.ownCadre(),
        // the session takes a slot only once its contact came: checked again here, since the streams
        // that were idle when it arrived may all have sent theirs since
        onContact: () => {
          this.pending.forget(sessionId)
          return this.engage(sessionId, peer)
        },
        onToken: (info) => {
          const cause = this.guard.admitToken(info)
          if (cause == null) return true
          this.guard.refused(cause)
          return false
        }
      },
      deps
    )
    this.listeners.set(sessionId, session)
    this.pending.add(sessionId, stream, peer)
    try {
      await this.track(session.execute())
    } finally {
      stream.removeEventListener('close', left)
      connection.removeEventListener('close', left)
      deadline.clear()
      this.listeners.delete(sessionId)
      this.pending.forget(sessionId)
      this.slots.remove(peer, sessionId)
      this.guard.settle(peer, ip, session.outcome, session.admittedToken)
    }
  }

  /**
   * Bootstraps with A through `linkOrText` (a parsed link, or its text as the QR holds it): tries each
   * responder address in order. Resolves with the result on D_DONE; rejects with a BootstrapError
   * (RejectedError, TimeoutError, DialFailedError, …) otherwise, or InvalidLinkError before any session starts.
   */
  async initiateBootstrap(
    linkOrText: BootstrapLink | string,
    node: Libp2p,
    options: InitiateBootstrapOptions = {}
  ): Promise<BootstrapResult> {
    const { link, peerId: remotePeerId, addrs } = dialTarget(linkOrText)
    // a stopped node fails every dial as if the other party never answered
    if (node.status !== undefined && node.status !== 'started') throw new NodeNotStartedError()
    if (this.engagedCount() >= this.config.maxConcurrentSessions) {
      throw new BootstrapError('busy', 'too many bootstrap sessions on this node')
    }
    const sessionId = options.sessionId ?? randomUUID()
    const deadline = new Deadline(this.config.sessionTimeoutMs)
    const session = new DialerSession(
      {
        sessionId,
        link,
        addrs,
        node,
        remotePeerId,
        identityBundle: options.identityBundle ?? this.config.identityBundle ?? {},
        cadrePeerAddrs: this.ownCadre()
      },
      this.deps(this.sessionSignal(deadline, options.signal), deadline)
    )
    this.dialers.set(sessionId, session)
    try {
      return await this.track(session.execute())
    } finally {
      deadline.clear()
      this.dialers.delete(sessionId)
    }
  }

  /**
   * Gives the session whose contact just came a slot: within its peer's cap, and within the table,
   * making room fairly (FairSlots) when it is full.
   */
  private engage(sessionId: string, peer: string): boolean {
    if (this.slots.held(peer) >= this.guard.limits.maxSessionsPerPeer) {
      this.guard.refused('peer-sessions')
      return false
    }
    this.slots.add(peer, sessionId)
    if (this.engagedCount() <= this.config.maxConcurrentSessions) return true
    if (this.slots.makeRoomFor(peer, sessionId)) return true
    this.guard.refused('capacity')
    return false
  }

  private activeCount(): number {
    return this.listeners.size + this.dialers.size
  }

  /**
   * Sessions that hold a slot of maxConcurrentSessions: all but listeners still waiting for a contact
   * and those already told to make room.
   */
  private engagedCount(): number {
    return this.activeCount() - this.pending.size - this.slots.releasingCount
  }

  /** The session's signal: its deadline, which also follows a stop and the caller (no AbortSignal.any). */
  private sessionSignal(deadline: Deadline, callerSignal?: AbortSignal): AbortSignal {
    deadline.follow(this.stopController.signal)
    // the caller's own reason stays the cause; a timeout of theirs is a timeout like ours
    if (callerSignal != null)
      deadline.follow(callerSignal, (reason) =>
        reason instanceof BootstrapError || isTimeoutReason(reason)
          ? reason
          : new SessionAbortedError(undefined, { cause: reason })
      )
    // no setMaxListeners: only the step in progress listens to it (steps and hooks of one session run one
    // at a time, and each callee removes its listener when it returns)
    return deadline.signal
  }

  private deps(signal: AbortSignal, deadline: Deadline): SessionDeps {
    return {
      hooks: this.hooks,
      config: this.config,
      signal,
      onEvent: (event) => this.onEvent(event),
      extendDeadline: (ms) => deadline.extend(ms),
      armStep: (ms) => deadline.step(ms),
      // made on first use: a contact refused at its first read never races anything
      get aborted() {
        return deadline.aborted
      }
    }
  }

  private onEvent(event: SessionEvent): void {
    // a terminal session no longer counts, so a watcher of the last event sees the counts settled
    if (isTerminalState(event.state)) {
      this.listeners.delete(event.sessionId)
      this.dialers.delete(event.sessionId)
      this.pending.forget(event.sessionId)
    }
    // no event object built when nobody listens (a library user without a watcher, a refusal flood)
    if (this.listenerCount('session') > 0) this.safeDispatchEvent('session', { detail: event })
    const log = this.hooks.logSessionEvent
    if (log == null) return
    try {
      const pending = Promise.resolve(log.call(this.hooks, event.sessionId, event)).catch(() => {})
      this.pendingLogs.add(pending)
      void pending.finally(() => this.pendingLogs.delete(pending))
    } catch {
      // an audit failure never fails a session
    }
  }

  private ownCadre(): string[] {
    try {
      const addrs = this.config.cadrePeerAddrs?.() ?? []
      return addrs
        .filter((a) => typeof a === 'string' && a.length <= LIMITS.multiaddr)
        .slice(0, LIMITS.cadreAddrs)
    } catch {
      return []
    }
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.running.add(promise)
    const done = (): void => {
      this.running.delete(promise)
    }
    promise.then(done, done)
    return promise
  }
}
