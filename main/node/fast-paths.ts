/**
 * Two libp2p costs per stream and per connection that grow with a rush, cut from outside libp2p (a
 * service that wraps two methods of its components; no patch to node_modules):
 *
 * - libp2p merges the negotiated protocol into the peer store on **every** stream (connection.js
 *   `onIncomingStream` and `newStream`): a per-peer lock, a datastore read, protobuf decode and encode, a
 *   write and a `peer:update` event. For a merchant every fresh customer is a new peer, so that was a new
 *   peer-store record per customer, kept for hours, that nothing in Taleus reads (no topology, no
 *   identify on connection open, the merchant never dials a customer back). By default such a merge
 *   (protocols alone, another peer) is not written at all; `recordStreamProtocols: true` writes it once
 *   per protocol of a connected peer instead (a repeat returns the peer as that merge left it; its
 *   `peer:update`, a delete, its disconnect or a minute forgets it).
 * - `connectionManager.getConnections()` without a peer concatenates the table peer by peer
 *   (`conns = conns.concat(c)`: O(n²) copies) and runs twice per inbound connection (the inbound
 *   check and the pruner on `connection:open`). Here it copies one list kept in step with the table
 *   (connection-list.ts): no walk of the table per new connection.
 */
import type { Connection, Libp2pEvents, Peer, PeerData, PeerId, TypedEventTarget } from '@libp2p/interface'
import { ConnectionList } from './connection-list.ts'
import type { ConnectionTable } from './connection-list.ts'

/** What the service needs from libp2p (a service's components). */
export interface FastPathsComponents {
  peerId: PeerId
  events: TypedEventTarget<Libp2pEvents>
  peerStore: {
    merge(id: PeerId, data: PeerData, options?: unknown): Promise<Peer>
    delete(id: PeerId, options?: unknown): Promise<void>
  }
  connectionManager: {
    getConnections(peerId?: PeerId): Connection[]
    getConnectionsMap(): unknown
    openConnection(...args: unknown[]): Promise<Connection>
  }
}

/** How long a merged peer is trusted without a change event (far below the peer store's expiry). */
export const MERGE_CACHE_MS = 60_000
/** Peers remembered at most (a connected peer each; the oldest is forgotten past this). */
export const MERGE_CACHE_PEERS = 10_000

/** Options of fastPaths(). */
export interface FastPathsInit {
  /**
   * Record in the peer store which protocols a peer opened or answered streams for (stock libp2p does,
   * on every stream). Default false: only identify, discovery and explicit writes fill the peer store,
   * so a third-party topology that waits for a peer to gain a protocol through its streams needs true.
   */
  recordStreamProtocols?: boolean
}

interface Merged {
  protocols: Set<string>
  peer: Peer
  at: number
}

/** The service: `services: { fastPaths: fastPaths() }`. */
export class FastPaths {
  readonly [Symbol.toStringTag] = 'taleus:fast-paths'
  private readonly merged = new Map<string, Merged>()
  /** Merges answered from the cache (tests, diagnostics). */
  skippedMerges = 0

  /** Stream-protocol merges not written (recordStreamProtocols false). */
  unrecordedMerges = 0

  /** libp2p's connection table as one list (getConnections() without a peer). */
  readonly connections = new ConnectionList()

  constructor(
    private readonly components: FastPathsComponents,
    init: FastPathsInit = {}
  ) {
    const { peerStore, connectionManager, events } = components
    const record = init.recordStreamProtocols === true
    const merge = peerStore.merge.bind(peerStore)
    peerStore.merge = async (id, data, options) => {
      const protocols = onlyProtocols(data)
      // our own record (the registrar's protocols) is always written
      if (protocols == null || id.equals(components.peerId)) return merge(id, data, options)
      if (!record) {
        this.unrecordedMerges++
        // what this merge says about the peer; libp2p's stream code discards the value
        return { id, addresses: [], protocols, metadata: new Map(), tags: new Map() }
      }
      const key = id.toString()
      const known = this.merged.get(key)
      if (
        known != null &&
        Date.now() - known.at < MERGE_CACHE_MS &&
        protocols.every((p) => known.protocols.has(p))
      ) {
        this.skippedMerges++
        return known.peer
      }
      const peer = await merge(id, data, options)
      // remembered only after it landed, so a change event of this very merge came before
      this.remember(key, peer)
      return peer
    }
    const remove = peerStore.delete.bind(peerStore)
    peerStore.delete = async (id, options) => {
      this.merged.delete(id.toString())
      await remove(id, options)
    }
    const table = connectionManager.getConnectionsMap() as ConnectionTable
    const resync = this.connections.follow(table)
    const openConnection = connectionManager.openConnection.bind(connectionManager)
    connectionManager.openConnection = async (...args) => {
      const conn = await openConnection(...args)
      // an outbound connection may be pushed into the peer's array without a write the list sees
      resync(conn.remotePeer)
      return conn
    }
    connectionManager.getConnections = (peerId) => {
      if (peerId != null) return table.get(peerId) ?? []
      return this.connections.snapshot()
    }
    const forget = (id: PeerId): void => {
      this.merged.delete(id.toString())
    }
    events.addEventListener('peer:update', (evt) => forget(evt.detail.peer.id))
    events.addEventListener('peer:disconnect', (evt) => forget(evt.detail))
  }

  private remember(key: string, peer: Peer): void {
    this.merged.delete(key)
    if (this.merged.size >= MERGE_CACHE_PEERS) {
      const oldest = this.merged.keys().next()
      if (oldest.done !== true) this.merged.delete(oldest.value)
    }
    this.merged.set(key, { protocols: new Set(peer.protocols), peer, at: Date.now() })
  }
}

/** The protocols of a merge that changes nothing else, or undefined. */
function onlyProtocols(data: PeerData): string[] | undefined {
  const keys = Object.keys(data)
  if (keys.length !== 1 || keys[0] !== 'protocols' || !Array.isArray(data.protocols)) return undefined
  return data.protocols
}

/** The libp2p service factory. */
export function fastPaths(init: FastPathsInit = {}): (components: FastPathsComponents) => FastPaths {
  return (components) => new FastPaths(components, init)
}
