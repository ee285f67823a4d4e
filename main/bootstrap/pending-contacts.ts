/**
 * Inbound streams that have not sent their contact yet, per remote peer, so that idle streams (a slowloris)
 * are cut back from the peer holding most of them and never lock customers out.
 */
import type { Stream } from '@libp2p/interface'
import { BootstrapError, RejectedError } from './errors.ts'
import type { SlotHolder } from './fair-slots.ts'

/** The listener sessions still waiting for their contact frame. */
export class PendingContacts {
  /** Listener sessions whose contact has not arrived yet, oldest first (not counted as engaged). */
  private readonly awaiting = new Map<string, { stream: Stream; peer: string }>()
  /** The same, counted per remote peer: the peer holding most of them is the one cut back. */
  private readonly byPeer = new Map<string, number>()

  /** How many sessions wait for their contact. */
  get size(): number {
    return this.awaiting.size
  }

  /** A new listener session whose contact has not come yet. */
  add(sessionId: string, stream: Stream, peer: string): void {
    this.awaiting.set(sessionId, { stream, peer })
    this.byPeer.set(peer, (this.byPeer.get(peer) ?? 0) + 1)
  }

  /** Drops a session whose contact came (or which ended). */
  forget(sessionId: string): void {
    const entry = this.awaiting.get(sessionId)
    if (entry == null) return
    this.awaiting.delete(sessionId)
    const left = (this.byPeer.get(entry.peer) ?? 1) - 1
    if (left > 0) this.byPeer.set(entry.peer, left)
    else this.byPeer.delete(entry.peer)
  }

  /**
   * Ends the oldest contact-less stream of the peer that holds the most (a customer has one or two),
   * telling it `busy` (load, not a fault: the customer may try again).
   */
  evictIdle(sessionOf: (sessionId: string) => SlotHolder | undefined): void {
    let worst: string | undefined
    let most = 0
    for (const [peer, n] of this.byPeer) {
      if (n > most) {
        most = n
        worst = peer
      }
    }
    for (const [sessionId, entry] of this.awaiting) {
      if (entry.peer !== worst) continue
      this.forget(sessionId)
      const session = sessionOf(sessionId)
      if (session?.abort(new RejectedError('busy', 'too many streams waiting for a contact')) !== true) {
        entry.stream.abort(new BootstrapError('busy', 'too many streams waiting for a contact'))
      }
      return
    }
  }
}
