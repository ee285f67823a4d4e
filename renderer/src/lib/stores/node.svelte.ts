/** This node and the peers it sees. */
import type { NodeInfo, PeerView } from '../../../../preload/contract.ts'
import { mergeInto } from './keyed.ts'

/** The node screen's source. */
export class NodeStore {
  info = $state.raw<NodeInfo | undefined>(undefined)
  peers = $state.raw(new Map<string, PeerView>())
  /** Connected first, then most recently seen. */
  peerList = $derived(
    [...this.peers.values()].sort(
      (a, b) => Number(b.connected) - Number(a.connected) || b.lastSeen - a.lastSeen
    )
  )

  /** Upserts peers. */
  applyPeers(views: readonly PeerView[]): void {
    if (views.length === 0) return
    this.peers = mergeInto(this.peers, views, (p) => p.peerId)
  }
}
