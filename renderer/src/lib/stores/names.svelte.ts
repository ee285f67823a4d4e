/** Customers' names by session: what the identity bundles said, from approvals and tallies. */
import type { ApprovalView, TallyView } from '../../../../preload/contract.ts'
import { nameOf } from '../names.ts'

/** Names by sessionId (only sessions whose customer gave a name or an email), and by peer. */
export class NamesStore {
  bySession = $state.raw(new Map<string, string>())
  /** A peer's name from any tally or approval of it: a known customer stays known on its other rows. */
  byPeer = $state.raw(new Map<string, string>())

  /** Learns names from waiting approvals and from tallies. */
  apply(approvals: readonly ApprovalView[], tallies: readonly TallyView[]): void {
    const found: [string, string][] = []
    const peers: [string, string][] = []
    for (const a of approvals) {
      const name = nameOf(a.bundle)
      if (name != null) found.push([a.sessionId, name])
      if (name != null) peers.push([a.peerId, name])
    }
    for (const t of tallies) {
      const name = t.counterpartyName ?? nameOf(t.counterpartyIdentity)
      if (name != null && t.sessionId !== '') found.push([t.sessionId, name])
      if (name != null) peers.push([t.counterpartyPeerId, name])
    }
    if (!peers.every(([peer, name]) => this.byPeer.get(peer) === name)) {
      const next = new Map(this.byPeer)
      for (const [peer, name] of peers) next.set(peer, name)
      this.byPeer = next
    }
    if (found.every(([id, name]) => this.bySession.get(id) === name)) return
    const next = new Map(this.bySession)
    for (const [id, name] of found) next.set(id, name)
    this.bySession = next
  }

  /** The name of a session's customer (or of its peer, known from another tally), if known. */
  get(sessionId: string | undefined, peerId?: string): string | undefined {
    const own = sessionId == null ? undefined : this.bySession.get(sessionId)
    return own ?? (peerId == null ? undefined : this.byPeer.get(peerId))
  }

  /** A peer's name, if any tally or approval gave one. */
  ofPeer(peerId: string): string | undefined {
    return this.byPeer.get(peerId)
  }
}
