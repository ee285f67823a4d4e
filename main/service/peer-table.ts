/** The peers the console shows: seen by mDNS or connected, the most recent 1000. */
import type { PeerView } from '../views/console-views.ts'

/** Peers kept: many one-off customers connect over a day; the most recent stay. */
const MAX_PEERS = 1000

/** Peers by id, least recently seen first. */
export class PeerTable {
  readonly #peers = new Map<string, PeerView>()

  /** Merge what was just seen of `peerId` and return its row. */
  update(peerId: string, multiaddrs: string[], source: PeerView['source'], connected: boolean): PeerView {
    const previous = this.#peers.get(peerId)
    const peer: PeerView = {
      peerId,
      multiaddrs: [...new Set([...(previous?.multiaddrs ?? []), ...multiaddrs])].slice(-8),
      source: previous?.source === 'mdns' ? 'mdns' : source,
      connected,
      lastSeen: Date.now()
    }
    this.#peers.delete(peerId)
    this.#peers.set(peerId, peer)
    if (this.#peers.size > MAX_PEERS) {
      const oldest = this.#peers.keys().next().value
      if (oldest !== undefined) this.#peers.delete(oldest)
    }
    return peer
  }

  list(): PeerView[] {
    return [...this.#peers.values()]
  }
}
