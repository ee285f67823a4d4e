/**
 * Recording and settling the tallies of one store: new records go in after the audit is flushed, and the
 * status changes of one tally run one at a time.
 */
import type { TypedEventEmitter } from 'main-event'
import type { TallyOutcome } from '../bootstrap/types.ts'
import type { AuditLog } from './audit-log.ts'
import { StoreInputError } from './errors.ts'
import { tallyView } from './tally-book.ts'
import type { TallyBook, TallyRecord } from './tally-book.ts'
import type { StoreEvents } from './types.ts'

/** Writes new tally records and their status changes, announcing each as a 'tally' event. */
export class TallyLedger {
  #tallies: TallyBook
  #audit: AuditLog
  #events: TypedEventEmitter<StoreEvents>
  #now: () => number
  /** Tallies created by this run; recover() leaves them alone. */
  readonly createdThisRun = new Set<string>()
  /** The status change of a tally being written, so changes of one tally never overlap. */
  #settling = new Map<string, Promise<void>>()
  /** New records being written, by tallyId. */
  #recording = new Map<string, TallyRecord>()

  constructor(parts: {
    tallies: TallyBook
    audit: AuditLog
    events: TypedEventEmitter<StoreEvents>
    now: () => number
  }) {
    this.#tallies = parts.tallies
    this.#audit = parts.audit
    this.#events = parts.events
    this.#now = parts.now
  }

  /** Record a new tally; refuses an id already recorded. A change of it waits until it is on disk. */
  async record(record: TallyRecord): Promise<void> {
    const { tallyId } = record
    if (this.#tallies.has(tallyId) || this.#recording.has(tallyId))
      throw new StoreInputError('tally id already recorded')
    this.#recording.set(tallyId, record)
    const run = (async () => {
      // Audit first: a crash must never leave a tally on disk whose session has no record in the trail.
      await this.#audit.flush().catch(() => {})
      await this.#tallies.put([record])
      this.createdThisRun.add(tallyId)
      this.#events.safeDispatchEvent('tally', { detail: tallyView(record) })
    })()
    this.#settling.set(tallyId, run)
    try {
      await run
    } finally {
      this.#recording.delete(tallyId)
      if (this.#settling.get(tallyId) === run) this.#settling.delete(tallyId)
    }
  }

  /** A new record still on its way to disk (a listener answers before its draft is written). */
  recording(tallyId: string): TallyRecord | undefined {
    return this.#recording.get(tallyId)
  }

  /**
   * draft → pending | confirmed | abandoned, pending → confirmed | abandoned; nothing else. One change of a
   * tally at a time: a late abandon (a session's cleanup) waits for a confirm still being written and then
   * sees it, so what we answer a verdict query is what the disk holds.
   */
  async settle(tallyId: string, outcome: TallyOutcome): Promise<void> {
    const before = this.#settling.get(tallyId)
    const run = (before ?? Promise.resolve())
      .catch(() => {})
      .then(async () => {
        const current = this.#tallies.get(tallyId)
        if (current === undefined) return
        const from = current.status
        if (from !== 'draft' && !(from === 'pending' && outcome !== 'pending')) return
        const next: TallyRecord = { ...current, status: outcome, updatedAt: this.#now() }
        await this.#tallies.put([next])
        this.#events.safeDispatchEvent('tally', { detail: tallyView(next) })
      })
    this.#settling.set(tallyId, run)
    try {
      await run
    } finally {
      if (this.#settling.get(tallyId) === run) this.#settling.delete(tallyId)
    }
  }
}
