/**
 * The audit trail: every SessionEvent, one JSON line each in audit.jsonl. Appends are batched and
 * fdatasync'ed at most `flushMs` later (and on close); the file is never rewritten, so its cost does
 * not grow with its length. Memory holds only a ring of recent events and a per-session index over
 * that ring; older history is read from the files backwards (`query`).
 *
 * Bounded on disk, whoever calls: rejected contacts are coalesced (audit-coalesce.ts), so a flood costs
 * a few counted lines per peer and window; and the trail rotates (audit-files.ts) once the current file
 * reaches `maxBytes / files`, keeping `files` files, so it never holds much more than `maxBytes`.
 * To coalesce, a listener session's first event waits (at most `holdMs`) for its second: a contact
 * refused at once is then written in full or counted, never half. `flush()` writes waiting events too.
 *
 * Besides SessionEvents the trail holds operator records (`op`: who approved, created, revoked,
 * exported, started or stopped what) and the hash chain's file headers; every line written is chained
 * (audit-chain.ts) at the moment it is written, so the chain covers exactly what is on disk.
 */
import type { AuditQuery } from '../views/console-queries.ts'
import type { SessionEvent } from '../bootstrap/types.ts'
import { ChainState, GENESIS, fileHasHash, hashOf, headerSeq, readHead } from './audit-chain.ts'
import { Coalescer, isRejectedContact } from './audit-coalesce.ts'
import {
  AUDIT_COALESCE_MS,
  AUDIT_FILES,
  AUDIT_HOLD_MS,
  AUDIT_MAX_BYTES,
  AUDIT_MEMORY_EVENTS
} from './audit-defaults.ts'
import type { AuditLogInit } from './audit-defaults.ts'
import { readRotatedBackward, rotateFiles, rotatedPath } from './audit-files.ts'
import { RecentEvents } from './audit-recent.ts'
import { lastHashOf, normalise, parseEvent, pickEvent } from './audit-records.ts'
import type { OperatorRecord } from './audit-records.ts'
import { openJournal } from './journal.ts'
import type { Journal, JournalLine } from './journal.ts'

// the trail's path stays the one import for its users
export * from './audit-defaults.ts'
export type { Actor, OperatorRecord } from './audit-records.ts'

/** Events waiting for a retry after failed writes are capped so a full disk cannot eat the memory. */
const MAX_UNWRITTEN = 10_000
/** Events waiting to be handed to the journal are capped the same way (written at once past this). */
const MAX_PENDING = 50_000
const RETRY_MS = 1_000

interface Entry {
  text: string
  /** A listener session's first event, waiting for its second (since `since`). */
  held: boolean
  /** Set while held: whose first event it is. */
  sessionId?: string
  dropped: boolean
  since: number
}

/** The append-only audit trail of one store. */
export class AuditLog {
  #journal: Journal
  #path: string
  #files: number
  #rotateAt: number
  #holdMs: number
  #now: () => number
  #shed: () => boolean
  #onWrite: (bytes: number) => void
  #coalescer: Coalescer | undefined
  #recent: RecentEvents
  #unwritten: string[] = []
  /** Lines appended since the last hand-over to the journal, in order; held ones may still be dropped. */
  #pending: Entry[] = []
  #heldBySession = new Map<string, Entry>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #sweepTimer: ReturnType<typeof setTimeout> | undefined
  #flushMs: number
  #retry: ReturnType<typeof setTimeout> | undefined
  /** The chain of writes (and rotations), one at a time. */
  #writing: Promise<void> = Promise.resolve()
  #chain: ChainState
  /** The number of a chain file whose header is not written yet (written before the next record). */
  #headerDue: number | undefined
  /** Events that could not be written and were dropped over the cap (disk full for long). */
  dropped = 0
  /** The last write failure, cleared by the next successful write. */
  lastError: Error | undefined

  private constructor(journal: Journal, path: string, init: AuditLogInit) {
    this.#journal = journal
    this.#path = path
    this.#chain = new ChainState(GENESIS, 0, 2)
    this.#recent = new RecentEvents(init.memoryEvents ?? AUDIT_MEMORY_EVENTS)
    this.#flushMs = Math.max(0, init.flushMs ?? 100)
    this.#files = Math.max(2, Math.floor(init.files ?? AUDIT_FILES))
    this.#rotateAt = Math.max(4096, Math.floor((init.maxBytes ?? AUDIT_MAX_BYTES) / this.#files))
    this.#holdMs = Math.max(0, init.holdMs ?? AUDIT_HOLD_MS)
    this.#now = init.now ?? Date.now
    this.#shed = init.shed ?? (() => false)
    this.#onWrite = init.onWrite ?? (() => {})
    const windowMs = init.coalesceMs ?? AUDIT_COALESCE_MS
    if (windowMs > 0)
      this.#coalescer = new Coalescer({
        windowMs,
        now: this.#now,
        emit: (record) => this.#push(JSON.stringify(record))
      })
  }

  /** Open the trail at `path` and load its newest events into memory. */
  static async open(path: string, init: AuditLogInit = {}): Promise<AuditLog> {
    // the batching delay lives here (#pending), so the journal writes as soon as it is handed a batch
    const { journal } = await openJournal(path)
    const log = new AuditLog(journal, path, init)
    await log.#initChain()
    // a trail written before the cap existed (or with a smaller cap) starts a new file at once
    if (log.#journal.size >= log.#rotateAt) await log.#rotate().catch(() => {})
    const capacity = log.#recent.capacity
    const newest: SessionEvent[] = []
    for await (const line of log.#readBackward()) {
      const event = parseEvent(line.text)
      if (event === undefined) continue
      newest.push(event)
      if (newest.length >= capacity) break
    }
    for (let i = newest.length - 1; i >= 0; i--) log.#recent.remember(newest[i] as SessionEvent)
    return log
  }

  /** The hash of the last record written and the current file's number in the chain. */
  get chainHead(): { seq: number; h: string } {
    return { seq: this.#chain.seq, h: this.#chain.head }
  }

  /** Record an operator action (durable within the flush delay); never throws. */
  appendOp(record: OperatorRecord): void {
    try {
      this.#push(JSON.stringify(record))
    } catch {
      // the audit never fails a command
    }
  }

  /** Records of the whole trail (newest first) that `match` keeps, at most `limit`; stops at `until`. */
  async queryRecords(
    match: (record: Record<string, unknown>) => boolean,
    limit: number,
    until?: (record: Record<string, unknown>) => boolean
  ): Promise<Array<Record<string, unknown>>> {
    await this.flush()
    const out: Array<Record<string, unknown>> = []
    try {
      for await (const line of this.#readBackward()) {
        let record: Record<string, unknown>
        try {
          record = JSON.parse(line.text) as Record<string, unknown>
        } catch {
          continue
        }
        if (record === null || typeof record !== 'object') continue
        delete record.h
        if (match(record)) {
          out.push(record)
          if (out.length >= limit) break
        }
        if (until?.(record) === true) break
      }
    } catch {
      // a rotation replaced a file while it was read: what was read so far is still in order
    }
    return out
  }

  /** Rejected contacts counted into coalesced records instead of written one by one. */
  get coalesced(): number {
    return this.#coalescer?.coalesced ?? 0
  }

  /** Record an event; never throws. Durable within the flush delay (a session's first: within `holdMs`). */
  append(event: SessionEvent): void {
    const clean = pickEvent(event)
    this.#recent.remember(clean)
    const text = JSON.stringify(clean)
    if (this.#coalescer === undefined) {
      this.#push(text)
      return
    }
    if (clean.direction === 'inbound' && clean.previousState === null) {
      // a repeated first event (never from a real session) lets the earlier one go as it is
      const earlier = this.#heldBySession.get(clean.sessionId)
      if (earlier !== undefined) earlier.held = false
      this.#heldBySession.set(clean.sessionId, this.#push(text, clean.sessionId))
      return
    }
    const first = this.#heldBySession.get(clean.sessionId)
    if (first !== undefined) {
      this.#heldBySession.delete(clean.sessionId)
      if (isRejectedContact(clean) && this.#coalescer.absorb(clean, this.#shed())) {
        first.dropped = true
        this.#scheduleSweep()
        return
      }
      first.held = false
    }
    this.#push(text)
  }

  /** Recent events from memory, newest first (older history: `query`). */
  list(query: AuditQuery = {}): SessionEvent[] {
    const { limit, before, sessionId } = normalise(query)
    return this.#recent.list(limit, before, sessionId)
  }

  /** The whole trail (memory first, then the files backwards, rotated ones too), newest first. */
  async query(query: AuditQuery = {}): Promise<SessionEvent[]> {
    const { limit, before, sessionId } = normalise(query)
    if (sessionId !== undefined) {
      const events = this.#recent.session(sessionId)
      // the session's first event is still in memory: memory has all of it
      if (events !== undefined && events[0]?.previousState === null) return this.list(query)
    }
    await this.flush()
    const out: SessionEvent[] = []
    try {
      for await (const line of this.#readBackward()) {
        const e = parseEvent(line.text)
        if (e === undefined) continue
        if (sessionId !== undefined && e.sessionId !== sessionId) continue
        if (before !== undefined && e.at >= before) continue
        out.push(e)
        if (out.length >= limit) break
        if (sessionId !== undefined && e.previousState === null) break
      }
    } catch {
      // a rotation replaced a file while it was read: what was read so far is still in order
    }
    return out
  }

  /** Write and fdatasync everything appended so far (waiting first events too). */
  async flush(): Promise<void> {
    this.#handOver(true)
    if (this.#retry !== undefined) {
      clearTimeout(this.#retry)
      this.#retry = undefined
      this.#write([])
    }
    await this.#writing
    await this.#journal.flush()
  }

  /** Write the counted records, flush and close the file. */
  async close(): Promise<void> {
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer)
    this.#coalescer?.closeAll()
    await this.flush().catch(() => {})
    if (this.#retry !== undefined) clearTimeout(this.#retry)
    // the end anchor: records cut from the end later no longer contain it
    await this.#chain.anchor(this.#path, this.#now()).catch(() => {})
    await this.#journal.close()
  }

  /** Queue a line; with `heldFor`, it is that session's first event and waits for its second. */
  #push(text: string, heldFor?: string): Entry {
    const entry: Entry = { text, held: heldFor !== undefined, dropped: false, since: this.#now() }
    if (heldFor !== undefined) entry.sessionId = heldFor
    this.#pending.push(entry)
    if (this.#pending.length > MAX_PENDING) this.#handOver(true)
    else this.#timer ??= setTimeout(() => this.#handOver(false), this.#flushMs)
    return entry
  }

  /**
   * Give the decided lines to the journal in order (one append, one durable write for the window). A
   * first event still waiting stops the batch there, so the file keeps the order events happened in.
   */
  #handOver(all: boolean): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    const now = this.#now()
    const lines: string[] = []
    let i = 0
    for (; i < this.#pending.length; i++) {
      const e = this.#pending[i] as Entry
      if (e.dropped) continue
      if (e.held) {
        if (!all && now - e.since < this.#holdMs) break
        e.held = false
      }
      lines.push(e.text)
    }
    for (const e of this.#pending.splice(0, i)) {
      // a first event written without its second can no longer be coalesced
      if (e.sessionId !== undefined && this.#heldBySession.get(e.sessionId) === e)
        this.#heldBySession.delete(e.sessionId)
    }
    if (lines.length > 0) this.#write(lines)
    if (this.#pending.length > 0) this.#timer = setTimeout(() => this.#handOver(false), this.#flushMs)
  }

  #scheduleSweep(): void {
    if (this.#sweepTimer !== undefined || this.#coalescer === undefined) return
    const at = this.#coalescer.sweep()
    if (at === undefined) return
    this.#sweepTimer = setTimeout(
      () => {
        this.#sweepTimer = undefined
        this.#scheduleSweep()
      },
      Math.max(10, at - this.#now())
    )
    this.#sweepTimer.unref()
  }

  #write(lines: string[]): void {
    const batch = this.#unwritten.length > 0 ? this.#unwritten.splice(0).concat(lines) : lines
    if (batch.length === 0) return
    this.#writing = this.#writing.then(async () => {
      try {
        await this.#appendChained(batch)
        this.lastError = undefined
        this.#onWrite(batch.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0))
      } catch (err) {
        if ((err as Error).name === 'StoreClosedError') return
        this.lastError = err as Error
        this.#unwritten.unshift(...batch)
        const over = this.#unwritten.length - MAX_UNWRITTEN
        if (over > 0) {
          this.#unwritten.splice(0, over)
          this.dropped += over
        }
        this.#retry ??= setTimeout(() => {
          this.#retry = undefined
          this.#write([])
        }, RETRY_MS)
        this.#retry.unref()
        return
      }
      if (this.#journal.size >= this.#rotateAt) await this.#rotate().catch(() => {})
    })
  }

  /** Start a new current file; the oldest rotated file goes. Runs in the write chain (no write meanwhile). */
  async #rotate(chained = true): Promise<void> {
    await this.#journal.close()
    try {
      await rotateFiles(this.#path, this.#files)
    } finally {
      // reopen whatever is there: a new file after the rotation, the old one if it failed
      ;({ journal: this.#journal } = await openJournal(this.#path))
    }
    if (chained && this.#journal.size === 0) await this.#startFile(this.#chain.seq + 1)
  }

  /** Start chain file `seq` (the current file is new): its header goes first, now or with the next write. */
  async #startFile(seq: number): Promise<void> {
    this.#headerDue = seq
    await this.#appendChained([]).catch(() => {})
  }

  /**
   * Chain `texts` in write order and append them (a due file header first); the head moves only once
   * they are on disk, so a failed write leaves it where the disk is.
   */
  async #appendChained(texts: string[]): Promise<void> {
    const due = this.#headerDue
    const at = this.#now()
    const all = due === undefined ? texts : [this.#chain.header(due, at), ...texts]
    if (all.length === 0) return
    const { lines, head } = this.#chain.link(all)
    await this.#journal.append(lines)
    this.#chain.head = head
    if (due !== undefined) {
      this.#chain.seq = due
      this.#headerDue = undefined
      await this.#chain.anchor(this.#path, at).catch(() => {})
    }
  }

  /**
   * Find the chain's head at open. A trail from before the chain moves to a rotated file as it is and
   * the chain starts in a new file; an empty current file continues the newest rotated file's chain. A
   * trail that no longer holds the head anchored at the last stop gets a `gap` record.
   */
  async #initChain(): Promise<void> {
    // read before anything here rewrites it
    const anchor = await readHead(this.#path)
    let last: string | undefined
    for await (const line of this.#journal.readBackward()) {
      last = hashOf(line.text)
      break
    }
    if (this.#journal.size > 0 && last === undefined) await this.#rotate(false)
    if (last !== undefined) {
      this.#chain = new ChainState(last, (await headerSeq(this.#path)) ?? 1, this.#files)
    } else {
      const previous = rotatedPath(this.#path, 1)
      const seq = await headerSeq(previous)
      const head = seq === undefined ? undefined : await lastHashOf(previous)
      this.#chain = new ChainState(
        head ?? GENESIS,
        seq !== undefined && head !== undefined ? seq : 0,
        this.#files
      )
      await this.#startFile(this.#chain.seq + 1)
    }
    if (anchor === undefined || anchor.h === this.#chain.head || anchor.seq < this.#chain.seq) return
    if (anchor.seq === this.#chain.seq && (await fileHasHash(this.#path, anchor.h))) return
    const gap = JSON.stringify({ chain: 'gap', at: this.#now(), anchorSeq: anchor.seq, anchorHead: anchor.h })
    // queued like any record: a full disk now must not stop the node from opening
    this.#push(gap)
  }

  async *#readBackward(): AsyncGenerator<JournalLine> {
    yield* this.#journal.readBackward()
    yield* readRotatedBackward(this.#path, this.#files)
  }
}
