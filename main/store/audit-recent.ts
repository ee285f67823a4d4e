/** The audit trail's memory: a ring of the newest events and, per session, its events still in the ring. */
import type { SessionEvent } from '../bootstrap/types.ts'

/** The newest events, oldest dropped first once the ring is full. */
export class RecentEvents {
  #ring: Array<SessionEvent | undefined>
  #next = 0
  #count = 0
  #bySession = new Map<string, SessionEvent[]>()

  constructor(capacity: number) {
    this.#ring = new Array<SessionEvent | undefined>(Math.max(1, capacity))
  }

  /** The most events the ring holds. */
  get capacity(): number {
    return this.#ring.length
  }

  /** A session's events still in memory, oldest first (undefined: none). */
  session(sessionId: string): SessionEvent[] | undefined {
    return this.#bySession.get(sessionId)
  }

  /** Newest first, at most `limit`, older than `before`, of one session or of all. */
  list(limit: number, before: number | undefined, sessionId: string | undefined): SessionEvent[] {
    const out: SessionEvent[] = []
    if (sessionId !== undefined) {
      const events = this.#bySession.get(sessionId) ?? []
      for (let i = events.length - 1; i >= 0 && out.length < limit; i--) {
        const e = events[i] as SessionEvent
        if (before === undefined || e.at < before) out.push(e)
      }
      return out
    }
    const cap = this.#ring.length
    for (let k = 1; k <= this.#count && out.length < limit; k++) {
      const e = this.#ring[(this.#next - k + cap) % cap] as SessionEvent
      if (before === undefined || e.at < before) out.push(e)
    }
    return out
  }

  /** Keep an event; the oldest one goes when the ring is full. */
  remember(event: SessionEvent): void {
    const cap = this.#ring.length
    const old = this.#ring[this.#next]
    if (old !== undefined) {
      const events = this.#bySession.get(old.sessionId)
      // the ring drops events oldest first, so the evicted one is its session's first
      events?.shift()
      if (events !== undefined && events.length === 0) this.#bySession.delete(old.sessionId)
    }
    this.#ring[this.#next] = event
    this.#next = (this.#next + 1) % cap
    this.#count = Math.min(this.#count + 1, cap)
    const events = this.#bySession.get(event.sessionId)
    if (events === undefined) this.#bySession.set(event.sessionId, [event])
    else events.push(event)
  }
}
