/**
 * Recording and settling the tallies of one store: a tally's first line goes in after the audit is flushed,
 * and the status changes of one tally run one at a time. A listener's draft is held in memory, not written:
 * its first line is its settlement.
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

  /**
   * Record a new tally; refuses an id already recorded. A change of it waits until it is on disk.
   *
   * A draft we listened for (inbound) is only held in memory. Its line would back nothing: we confirm it
   * before we tell the dialer so, and after a crash it could only become `abandoned`, which the dialer
   * concludes by itself when we do not know the tally it asks about (verdict recovery). Its first line is
   * its settlement, one durable write per customer fewer (docs/performance.md, K "Thirteenth pass").
   * A draft we dialled (outbound) is written: after a crash it is `pending` until the listener's verdict.
   * So is a listener's draft while the journal's last write failed: a disk that refuses writes then fails
   * the session before its answer, with a reason the dialer is told (`provision-failed`), not after its Ack.
   */
  async record(record: TallyRecord): Promise<void> {
    const { tallyId } = record
    if (this.#tallies.has(tallyId) || this.#recording.has(tallyId))
      throw new StoreInputError('tally id already recorded')
    if (record.direction === 'inbound' && record.status === 'draft' && !this.#tallies.failing) {
      this.#tallies.hold(record)
      this.createdThisRun.add(tallyId)
      this.#events.safeDispatchEvent('tally', { detail: tallyView(record) })
      return
    }
    this.#recording.set(tallyId, record)
    const run = (async () => {
      await this.#firstLine([record])
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

  /** A tally's first line: the audit first, so a crash never leaves a tally on disk whose session has no record in the trail. */
  async #firstLine(records: TallyRecord[]): Promise<void> {
    await this.#audit.flush().catch(() => {})
    await this.#tallies.put(records)
  }

  /**
   * A clean stop: every draft still held (its session cut by the stop, never confirmed) ends `abandoned` on
   * disk, as recover() would have made it after a crash had it been written.
   */
  async abandonHeld(): Promise<void> {
    await Promise.allSettled(this.#tallies.heldIds().map(async (id) => this.settle(id, 'abandoned')))
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
        if (!this.#tallies.isHeld(tallyId)) await this.#tallies.put([next])
        else if (outcome !== 'abandoned') await this.#firstLine([next])
        else {
          // an attempt that ended: if even its line cannot be written, forget it, as a crash would have
          // (the console still hears that it ended)
          await this.#firstLine([next]).catch((err: unknown) => {
            this.#tallies.forgetHeld(tallyId)
            this.#events.safeDispatchEvent('tally', { detail: tallyView(next) })
            throw err
          })
        }
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
