/**
 * Keeps the connection table open to new peers: caps inbound connections per remote IP (before any
 * handshake) and per peer id (right after Noise), closes inbound connections left without a stream
 * for a grace period, and when the table nears libp2p's maxConnections evicts idle connections of the
 * host holding the most, so a flood of idle connections cannot lock real customers out.
 */
import { NotStartedError } from '@libp2p/interface'
import type {
  ComponentLogger,
  Connection,
  ConnectionGater,
  Libp2pEvents,
  Logger,
  MultiaddrConnection,
  PeerId,
  Startable,
  TypedEventTarget
} from '@libp2p/interface'
import { ipKey, remoteHost } from './ip-key.ts'
import { LoadIndex } from './load-index.ts'

/** Options of the connection guard. */
export interface ConnectionGuardInit {
  /** Inbound connections one peer id may hold (pending included). Default 8: a wallet needs one. */
  maxConnectionsPerPeer?: number
  /**
   * Inbound connections one IPv4 address or IPv6 /64 may hold, handshakes in progress included.
   * Default 128: a shop's whole Wi-Fi behind one NAT address bootstrapping at once still fits.
   */
  maxConnectionsPerIp?: number
  /**
   * Hosts the per-IP cap does not apply to. Default the loopback addresses 127.0.0.1 and ::1: the
   * merchant's own tools, or a reverse proxy in front of the node, where every peer shares one address.
   */
  uncappedIps?: string[]
  /** An inbound connection with no open stream for this long is closed. Default 5000 ms. */
  idleGraceMs?: number
  /** How often idle connections are looked for. Default 1000 ms. */
  sweepIntervalMs?: number
  /** Table slots kept free for new peers: past maxConnections - headroom, idle connections are evicted. Default 64. */
  headroom?: number
  /** A connection counts as idle for eviction once it had no stream for this long. Default 1000 ms. */
  evictIdleMs?: number
}

/** Defaults of ConnectionGuardInit. */
export const DEFAULT_CONNECTION_GUARD = {
  maxConnectionsPerPeer: 8,
  maxConnectionsPerIp: 128,
  uncappedIps: ['127.0.0.1', '::1'],
  idleGraceMs: 5000,
  sweepIntervalMs: 1000,
  headroom: 64,
  evictIdleMs: 1000
} as const satisfies Required<ConnectionGuardInit>

/** What the guard did since it started. */
export interface ConnectionGuardStats {
  refusedByIp: number
  refusedByPeer: number
  /** Idle connections closed after the grace period. */
  reaped: number
  /** Idle connections closed early to keep room in the table. */
  evicted: number
  /** Connections in the table now (both directions). */
  connections: number
}

/** What the guard needs from libp2p (a service's components). */
export interface ConnectionGuardComponents {
  events: TypedEventTarget<Libp2pEvents>
  connectionManager: { getMaxConnections(): number }
  logger: ComponentLogger
}

/** How long a graceful close of an idle connection may take before it is aborted. */
const CLOSE_TIMEOUT_MS = 1000
/** Evictions per new connection at most (each new connection takes one slot). */
const MAX_EVICTIONS_PER_OPEN = 4

interface Tracked {
  conn: Connection
  /** Per-IP key for inbound connections from an IP; undefined otherwise (outbound, non-IP). */
  ip: string | undefined
  peer: string
  /** Since when no stream was seen; undefined while one is open. */
  idleSince: number | undefined
  closing: boolean
}

/** The guard: a libp2p service (`service`) plus the connection gater it works with (`gater`). */
export class ConnectionGuard implements Startable {
  /** Pass as libp2p's `connectionGater`. */
  readonly gater: ConnectionGater
  private readonly config: Required<ConnectionGuardInit>
  private readonly uncapped: Set<string>
  // caps count sockets (handshakes in progress too), from the gater until the socket closes
  private readonly socketsByIp = new LoadIndex<string>()
  private readonly socketsByPeer = new LoadIndex<string>()
  // the table as libp2p holds it, kept from connection:open/close so that nothing here is O(table)
  private readonly tracked = new Map<string, Tracked>()
  private readonly byIp = new Map<string, Set<Tracked>>()
  private readonly ipLoad = new LoadIndex<string>()
  private readonly peerLoad = new LoadIndex<string>()
  private closing = 0
  private counters = { refusedByIp: 0, refusedByPeer: 0, reaped: 0, evicted: 0 }
  private components: ConnectionGuardComponents | undefined
  private log: Logger | undefined
  private timer: ReturnType<typeof setInterval> | undefined

  constructor(init: ConnectionGuardInit = {}) {
    this.config = { ...DEFAULT_CONNECTION_GUARD, ...init } as Required<ConnectionGuardInit>
    this.uncapped = new Set(this.config.uncappedIps)
    this.gater = {
      denyInboundConnection: (maConn) => this.denyByIp(maConn),
      denyInboundEncryptedConnection: (peerId, maConn) => this.denyByPeer(peerId, maConn)
    }
    this.onOpen = this.onOpen.bind(this)
    this.onClose = this.onClose.bind(this)
  }

  /** The libp2p service factory: `services: { connectionGuard: guard.service }`. */
  readonly service = (components: ConnectionGuardComponents): ConnectionGuard => {
    this.components = components
    this.log = components.logger.forComponent('taleus:connection-guard')
    return this
  }

  readonly [Symbol.toStringTag] = 'taleus:connection-guard'

  start(): void {
    const events = this.requireComponents().events
    events.addEventListener('connection:open', this.onOpen)
    events.addEventListener('connection:close', this.onClose)
    this.timer = setInterval(() => this.sweep(), this.config.sweepIntervalMs)
    this.timer.unref()
  }

  stop(): void {
    const events = this.requireComponents().events
    events.removeEventListener('connection:open', this.onOpen)
    events.removeEventListener('connection:close', this.onClose)
    clearInterval(this.timer)
    this.tracked.clear()
    this.byIp.clear()
  }

  /** What the guard did so far. */
  stats(): ConnectionGuardStats {
    return { ...this.counters, connections: this.tracked.size }
  }

  private denyByIp(maConn: MultiaddrConnection): boolean {
    const host = remoteHost(maConn.remoteAddr)
    if (host === undefined || this.uncapped.has(host)) return false
    const key = ipKey(host)
    if (this.socketsByIp.get(key) >= this.config.maxConnectionsPerIp) {
      this.counters.refusedByIp++
      return true
    }
    this.holdUntilClosed(maConn, this.socketsByIp, key)
    return false
  }

  private denyByPeer(peerId: PeerId, maConn: MultiaddrConnection): boolean {
    const key = peerId.toString()
    if (this.socketsByPeer.get(key) >= this.config.maxConnectionsPerPeer) {
      this.counters.refusedByPeer++
      return true
    }
    this.holdUntilClosed(maConn, this.socketsByPeer, key)
    return false
  }

  /** Counts `key` in `index` until `maConn` closes. */
  private holdUntilClosed(maConn: MultiaddrConnection, index: LoadIndex<string>, key: string): void {
    if (maConn.status === 'closed') return
    index.increment(key)
    maConn.addEventListener('close', () => index.decrement(key), { once: true })
  }

  private onOpen(evt: CustomEvent<Connection>): void {
    const conn = evt.detail
    if (this.tracked.has(conn.id)) return
    const host = conn.direction === 'inbound' ? remoteHost(conn.remoteAddr) : undefined
    const entry: Tracked = {
      conn,
      ip: host === undefined ? undefined : ipKey(host),
      peer: conn.remotePeer.toString(),
      idleSince: Date.now(),
      closing: false
    }
    this.tracked.set(conn.id, entry)
    if (entry.ip !== undefined) {
      let set = this.byIp.get(entry.ip)
      if (set == null) this.byIp.set(entry.ip, (set = new Set()))
      set.add(entry)
      this.ipLoad.increment(entry.ip)
      this.peerLoad.increment(entry.peer)
    }
    this.makeRoom()
  }

  private onClose(evt: CustomEvent<Connection>): void {
    const entry = this.tracked.get(evt.detail.id)
    if (entry == null) return
    this.tracked.delete(entry.conn.id)
    if (entry.closing) this.closing--
    if (entry.ip === undefined) return
    const set = this.byIp.get(entry.ip)
    set?.delete(entry)
    if (set?.size === 0) this.byIp.delete(entry.ip)
    this.ipLoad.decrement(entry.ip)
    this.peerLoad.decrement(entry.peer)
  }

  /** Past maxConnections - headroom, closes idle connections of the heaviest host until back under. */
  private makeRoom(): void {
    const limit = this.requireComponents().connectionManager.getMaxConnections() - this.config.headroom
    for (let i = 0; i < MAX_EVICTIONS_PER_OPEN && this.tracked.size - this.closing > limit; i++) {
      const victim = this.evictionCandidate()
      if (victim === undefined) return
      this.counters.evicted++
      this.close(victim, 'evicted to keep room for new peers')
    }
  }

  /**
   * An idle inbound connection of the host holding the most (its peer holding the most, then the oldest);
   * failing that, the oldest idle inbound connection anywhere.
   */
  private evictionCandidate(): Tracked | undefined {
    const now = Date.now()
    const evictable = (t: Tracked): boolean =>
      !t.closing &&
      t.ip !== undefined &&
      t.conn.streams.length === 0 &&
      t.idleSince !== undefined &&
      now - t.idleSince >= this.config.evictIdleMs
    // no peer can beat one holding the most of all: stop at the first (the oldest) such, so a rush of
    // one-connection customers behind one address costs a step or two per new connection, not the table
    const most = this.peerLoad.maxCount
    for (const ip of this.ipLoad.heaviest()) {
      let best: Tracked | undefined
      let bestLoad = 0
      for (const t of this.byIp.get(ip) ?? []) {
        if (!evictable(t)) continue
        const load = this.peerLoad.get(t.peer)
        if (best === undefined || load > bestLoad) {
          best = t
          bestLoad = load
          if (load >= most) break
        }
      }
      if (best !== undefined) return best
    }
    for (const t of this.tracked.values()) if (evictable(t)) return t
    return undefined
  }

  /** Closes inbound connections that had no stream for the grace period. */
  private sweep(): void {
    const now = Date.now()
    for (const t of this.tracked.values()) {
      if (t.ip === undefined || t.closing) continue
      if (t.conn.streams.length > 0) {
        t.idleSince = undefined
        continue
      }
      t.idleSince ??= now
      if (now - t.idleSince >= this.config.idleGraceMs) {
        this.counters.reaped++
        this.close(t, 'idle')
      }
    }
  }

  private close(t: Tracked, why: string): void {
    t.closing = true
    this.closing++
    this.log?.('closing connection %s from %p: %s', t.conn.id, t.conn.remotePeer, why)
    // a timer stopped once the close settles: an AbortSignal.timeout that close() left a listener on
    // fired a second later for every connection closed, building a DOMException each
    const deadline = new AbortController()
    const timer = setTimeout(
      () => deadline.abort(new DOMException('the connection did not close in time', 'TimeoutError')),
      CLOSE_TIMEOUT_MS
    )
    timer.unref?.()
    t.conn
      .close({ signal: deadline.signal })
      .catch((err: Error) => t.conn.abort(err))
      .finally(() => clearTimeout(timer))
  }

  private requireComponents(): ConnectionGuardComponents {
    if (this.components == null) throw new NotStartedError('connection guard used before libp2p created it')
    return this.components
  }
}
