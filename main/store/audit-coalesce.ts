/**
 * Coalescing of rejected contacts for the audit trail: a stranger can make A refuse thousands of
 * contacts a second, and one full record each would fill the disk. The first rejection of a kind
 * (peer, end state, reason, token) in a window is recorded in full; the rest of that window become one
 * counted record, so a flood costs a few lines per peer and window instead of two lines per contact.
 */
import type { SessionEvent } from '../bootstrap/types.ts'

/** An audit record: a SessionEvent, or a counted record standing for `count` further rejected contacts. */
export interface AuditRecord extends SessionEvent {
  /** Coalesced records only: how many rejected contacts like this one it stands for. */
  count?: number
  /** Coalesced records only: `at` of the first of them (`at` is the last). */
  firstAt?: number
}

/** peerId of a record that stands for contacts of many peers (too many distinct peers in one window). */
export const MANY_PEERS = '*'

/** Peers recorded in full per window before new peers share one counted record per kind. */
const MAX_FULL_PER_WINDOW = 1000
/** Open coalescing buckets kept in memory; the oldest is closed (its record written) past this. */
const MAX_BUCKETS = 10_000

/** True for a listener session refused at its first step: the kind of event a flood produces. */
export function isRejectedContact(e: SessionEvent): boolean {
  return (
    e.direction === 'inbound' &&
    e.previousState === 'L_PROCESS_CONTACT' &&
    (e.state === 'L_FAILED' || e.state === 'L_TIMEOUT')
  )
}

interface Bucket {
  openedAt: number
  sample: SessionEvent
  count: number
  firstAt: number
  lastAt: number
  lastSessionId: string
}

/** Options of a Coalescer. */
export interface CoalescerInit {
  windowMs: number
  now: () => number
  /** Called with each counted record once its window ends. */
  emit: (record: AuditRecord) => void
}

/** Decides which rejected contacts are written in full and counts the rest. */
export class Coalescer {
  #buckets = new Map<string, Bucket>()
  #windowMs: number
  #now: () => number
  #emit: (record: AuditRecord) => void
  #windowStart = 0
  #fullInWindow = 0
  /** Rejected contacts counted instead of written, since open. */
  coalesced = 0

  constructor(init: CoalescerInit) {
    this.#windowMs = init.windowMs
    this.#now = init.now
    this.#emit = init.emit
  }

  /** Contacts counted but whose record is not written yet. */
  get open(): number {
    return this.#buckets.size
  }

  /**
   * Take a rejected contact's terminal event: false means write it (and its first event) in full, true
   * means it was counted. With `shed` (disk low) every rejection is counted, none written in full.
   */
  absorb(e: SessionEvent, shed: boolean): boolean {
    const now = this.#now()
    let bucket = this.#live(keyOf(e.peerId, e), now)
    if (bucket === undefined) {
      if (now - this.#windowStart >= this.#windowMs) {
        this.#windowStart = now
        this.#fullInWindow = 0
      }
      const full = !shed && this.#fullInWindow < MAX_FULL_PER_WINDOW
      const peerId = shed || full ? e.peerId : MANY_PEERS
      const key = keyOf(peerId, e)
      bucket = this.#live(key, now)
      if (bucket === undefined) {
        bucket = {
          openedAt: now,
          sample: { ...e, peerId },
          count: 0,
          firstAt: e.at,
          lastAt: e.at,
          lastSessionId: e.sessionId
        }
        this.#buckets.set(key, bucket)
        if (this.#buckets.size > MAX_BUCKETS) this.#close(this.#buckets.keys().next().value as string)
        if (full) {
          this.#fullInWindow++
          return false
        }
      }
    }
    if (bucket.count === 0) bucket.firstAt = e.at
    bucket.count++
    bucket.lastAt = e.at
    bucket.lastSessionId = e.sessionId
    this.coalesced++
    return true
  }

  /** Write the counted records of windows that have ended; returns when the next one ends (or undefined). */
  sweep(): number | undefined {
    const now = this.#now()
    for (const [key, b] of this.#buckets) {
      // Map order is opening order, so the first live bucket ends the sweep
      if (now - b.openedAt < this.#windowMs) return b.openedAt + this.#windowMs
      this.#close(key)
    }
    return undefined
  }

  /** Write every counted record now (close). */
  closeAll(): void {
    for (const key of [...this.#buckets.keys()]) this.#close(key)
  }

  #live(key: string, now: number): Bucket | undefined {
    const b = this.#buckets.get(key)
    if (b === undefined || now - b.openedAt < this.#windowMs) return b
    this.#close(key)
    return undefined
  }

  #close(key: string): void {
    const b = this.#buckets.get(key)
    if (b === undefined) return
    this.#buckets.delete(key)
    if (b.count === 0) return
    const { sample } = b
    const record: AuditRecord = {
      sessionId: b.lastSessionId,
      direction: sample.direction,
      state: sample.state,
      previousState: sample.previousState,
      at: b.lastAt,
      peerId: sample.peerId,
      count: b.count,
      firstAt: b.firstAt
    }
    if (sample.tokenId !== undefined) record.tokenId = sample.tokenId
    if (sample.reason !== undefined) record.reason = sample.reason
    this.#emit(record)
  }
}

function keyOf(peerId: string, e: SessionEvent): string {
  return `${peerId}\n${e.state}\n${e.reason ?? ''}\n${e.tokenId ?? ''}`
}
