/** The console's peer list kept current from libp2p: peers found by mDNS and peers connected or gone. */
import type { Connection, Libp2p, PeerId, PeerInfo } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerView } from '../views/console-views.ts'
import type { PeerTable } from './peer-table.ts'

/** Where watchPeers sends what it sees. */
export interface WatchPeersInit {
  /** Whether mDNS runs (else no peer is said to come from it). */
  mdns: boolean
  /** This node's own id, never listed. */
  selfId: string
  peers: PeerTable
  /** addEventListener for a CustomEvent, removed again on stop. */
  listen: <T>(target: EventTarget, type: string, handler: (detail: T) => void) => void
  push: (peer: PeerView) => void
}

/** Update `peers` from `node`'s discovery and connection events. */
export function watchPeers(node: Libp2p, { mdns, selfId, peers, listen, push }: WatchPeersInit): void {
  // libp2p also raises peer:discovery for peers learnt over a connection (identify); only a peer
  // found while not connected to it can have come from mDNS.
  listen(node, 'peer:discovery', (info: PeerInfo) => {
    const id = info.id.toString()
    const fromMdns = mdns && node.getConnections(info.id).length === 0
    updatePeer(id, info.multiaddrs.map(String), fromMdns ? 'mdns' : 'connection', info.id)
  })
  listen(node, 'connection:open', (conn: Connection) =>
    updatePeer(conn.remotePeer.toString(), [conn.remoteAddr.toString()], 'connection', conn.remotePeer)
  )
  listen(node, 'connection:close', (conn: Connection) =>
    updatePeer(conn.remotePeer.toString(), [], 'connection', conn.remotePeer)
  )

  function updatePeer(
    peerId: string,
    multiaddrs: string[],
    source: PeerView['source'],
    id: PeerId = peerIdFromString(peerId)
  ): void {
    if (peerId === selfId) return
    // by peer: a scan of every connection per connection event is quadratic in a rush of 1000 customers
    const connected = node.getConnections(id).length > 0
    const peer = peers.update(peerId, multiaddrs, source, connected)
    push(peer)
  }
}
