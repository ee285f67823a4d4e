/**
 * Who holds the listener's session slots, per remote peer, so that one peer (or a handful) cannot take
 * them all: when the table is full, a newcomer takes the newest slot of the peer holding the most,
 * provided that peer holds at least two more than the newcomer. Customers hold one slot each and are
 * never the ones made to leave.
 */
import { RejectedError } from './errors.ts'
import type { BootstrapError } from './errors.ts'

/** What FairSlots needs of a session. */
export interface SlotHolder {
  readonly sessionId: string
  /** Past the point of no return: never evicted. */
  readonly committed: boolean
  /** Ends the session with `reason`; false when it could not be ended. */
  abort(reason: BootstrapError): boolean
}

/** Engaged listener sessions per peer, and those already told to make room. */
export class FairSlots {
  private readonly byPeer = new Map<string, Set<string>>()
  private readonly releasing = new Set<string>()

  constructor(private readonly lookup: (sessionId: string) => SlotHolder | undefined) {}

  /** Slots `peer` holds now. */
  held(peer: string): number {
    return this.byPeer.get(peer)?.size ?? 0
  }

  /** Sessions evicted that have not ended yet (they no longer count against the table). */
  get releasingCount(): number {
    return this.releasing.size
  }

  add(peer: string, sessionId: string): void {
    const mine = this.byPeer.get(peer)
    if (mine == null) this.byPeer.set(peer, new Set([sessionId]))
    else mine.add(sessionId)
  }

  /** Forgets a session that ended. */
  remove(peer: string, sessionId: string): void {
    this.releasing.delete(sessionId)
    const mine = this.byPeer.get(peer)
    if (mine == null) return
    mine.delete(sessionId)
    if (mine.size === 0) this.byPeer.delete(peer)
  }

  /** True when a session of another peer could be evicted to make room for `peer`. */
  canMakeRoomFor(peer: string, self?: string): boolean {
    return this.victimFor(peer, self) != null
  }

  /** Evicts the victim for `peer` (told `busy`); false when the table is fairly shared already. */
  makeRoomFor(peer: string, self?: string): boolean {
    const victim = this.victimFor(peer, self)
    if (victim == null) return false
    if (!victim.abort(new RejectedError('busy', 'evicted to make room for another peer'))) return false
    this.releasing.add(victim.sessionId)
    return true
  }

  private victimFor(peer: string, self?: string): SlotHolder | undefined {
    const own = this.held(peer) - (self != null && this.byPeer.get(peer)?.has(self) === true ? 1 : 0)
    let heaviest: Set<string> | undefined
    let most = 0
    for (const [other, ids] of this.byPeer) {
      if (other === peer) continue
      const count = ids.size - this.countReleasing(ids)
      if (count > most) {
        most = count
        heaviest = ids
      }
    }
    if (heaviest == null || most < own + 2) return undefined
    const ids = [...heaviest]
    for (let i = ids.length - 1; i >= 0; i--) {
      const session = this.lookup(ids[i]!)
      if (session != null && !this.releasing.has(session.sessionId) && !session.committed) return session
    }
    return undefined
  }

  private countReleasing(ids: Set<string>): number {
    if (this.releasing.size === 0) return 0
    let n = 0
    for (const id of ids) if (this.releasing.has(id)) n++
    return n
  }
}
