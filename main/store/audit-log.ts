/**
 * The audit trail: every SessionEvent, one JSON line each in audit.jsonl. Appends are batched and
 * fdatasync'ed at most `flushMs` later (and on close); the file is never rewritten, so its cost does
 * not grow with its length. Memory holds only a ring of recent events and a per-session index over
 * that ring; older history is read from the file backwards (`query`).
 */
import type { AuditQuery } from '../../preload/contract.ts'
import type { SessionEvent } from '../bootstrap/types.ts'
import { openJournal } from './journal.ts'
import type { Journal } from './journal.ts'

/** Default and largest number of events one query returns. */
export const AUDIT_DEFAULT_LIMIT = 200
export const AUDIT_MAX_LIMIT = 5000

/** Events kept in memory when no size is given. */
export const AUDIT_MEMORY_EVENTS = 10_000

/** Events waiting for a retry after failed writes are capped so a full disk cannot eat the memory. */
const MAX_UNWRITTEN = 10_000
const RETRY_MS = 1_000

/** Options of the audit trail. */
export interface AuditLogInit {
  memoryEvents?: number
  flushMs?: number
}

/** The append-only audit trail of one store. */
export class AuditLog {
  #journal: Journal
  #ring: Array<SessionEvent | undefined>
  #next = 0
  #count = 0
  #bySession = new Map<string, SessionEvent[]>()
  #unwritten: string[] = []
  /** Lines appended since the last hand-over to the journal: one journal append per flush window, not per event. */
  #buffer: string[] = []
  #timer: ReturnType<typeof setTimeout> | undefined
  #flushMs: number
  #retry: ReturnType<typeof setTimeout> | undefined
  #writing: Promise<void> | undefined
  /** Events that could not be written and were dropped over the cap (disk full for long). */
  dropped = 0
  /** The last write failure, cleared by the next successful write. */
  lastError: Error | undefined

  private constructor(journal: Journal, capacity: number, flushMs: number) {
    this.#journal = journal
    this.#ring = new Array<SessionEvent | undefined>(capacity)
    this.#flushMs = flushMs
  }

  /** Open the trail at `path` and load its newest events into memory. */
  static async open(path: string, init: AuditLogInit = {}): Promise<AuditLog> {
    const capacity = Math.max(1, init.memoryEvents ?? AUDIT_MEMORY_EVENTS)
    // the batching delay lives here (#buffer), so the journal writes as soon as it is handed a batch
    const { journal } = await openJournal(path)
    const log = new AuditLog(journal, capacity, Math.max(0, init.flushMs ?? 100))
    const newest: SessionEvent[] = []
    for await (const line of journal.readBackward()) {
      const event = parseEvent(line.text)
      if (event === undefined) continue
      newest.push(event)
      if (newest.length >= capacity) break
    }
    for (let i = newest.length - 1; i >= 0; i--) log.#remember(newest[i] as SessionEvent)
    return log
  }

  /** Record an event; never throws. Durable within the flush delay. */
  append(event: SessionEvent): void {
    const clean = pickEvent(event)
    this.#remember(clean)
    this.#buffer.push(JSON.stringify(clean))
    this.#timer ??= setTimeout(() => this.#handOver(), this.#flushMs)
  }

  /** Recent events from memory, newest first (older history: `query`). */
  list(query: AuditQuery = {}): SessionEvent[] {
    const { limit, before, sessionId } = normalise(query)
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

  /** The whole trail (memory first, then the file backwards), newest first. */
  async query(query: AuditQuery = {}): Promise<SessionEvent[]> {
    const { limit, before, sessionId } = normalise(query)
    if (sessionId !== undefined) {
      const events = this.#bySession.get(sessionId)
      // the session's first event is still in memory: memory has all of it
      if (events !== undefined && events[0]?.previousState === null) return this.list(query)
    }
    await this.flush()
    const out: SessionEvent[] = []
    for await (const line of this.#journal.readBackward()) {
      const e = parseEvent(line.text)
      if (e === undefined) continue
      if (sessionId !== undefined && e.sessionId !== sessionId) continue
      if (before !== undefined && e.at >= before) continue
      out.push(e)
      if (out.length >= limit) break
      if (sessionId !== undefined && e.previousState === null) break
    }
    return out
  }

  /** Write and fdatasync everything appended so far. */
  async flush(): Promise<void> {
    this.#handOver()
    if (this.#retry !== undefined) {
      clearTimeout(this.#retry)
      this.#retry = undefined
      this.#write([])
    }
    await this.#journal.flush()
    await this.#writing
  }

  /** Flush and close the file. */
  async close(): Promise<void> {
    await this.flush().catch(() => {})
    if (this.#retry !== undefined) clearTimeout(this.#retry)
    await this.#journal.close()
  }

  /** Give the buffered lines to the journal (one append, one fdatasync for the whole window). */
  #handOver(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    if (this.#buffer.length === 0) return
    const lines = this.#buffer
    this.#buffer = []
    this.#write(lines)
  }

  #write(lines: string[]): void {
    const batch = this.#unwritten.length > 0 ? this.#unwritten.splice(0).concat(lines) : lines
    if (batch.length === 0) return
    const p = this.#journal.append(batch).then(
      () => {
        this.lastError = undefined
      },
      (err: Error) => {
        if (err.name === 'StoreClosedError') return
        this.lastError = err
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
      }
    )
    this.#writing = p
  }

  #remember(event: SessionEvent): void {
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

function normalise(query: AuditQuery): {
  limit: number
  before: number | undefined
  sessionId: string | undefined
} {
  const raw = query.limit ?? AUDIT_DEFAULT_LIMIT
  const limit = Number.isFinite(raw)
    ? Math.min(AUDIT_MAX_LIMIT, Math.max(1, Math.floor(raw)))
    : AUDIT_DEFAULT_LIMIT
  return { limit, before: query.before, sessionId: query.sessionId }
}

const EVENT_KEYS = [
  'sessionId',
  'direction',
  'state',
  'previousState',
  'at',
  'peerId',
  'tokenId',
  'tallyId',
  'role',
  'reason'
] as const

/** Keep only the fields a SessionEvent has, so nothing else (never a token) reaches the disk. */
function pickEvent(event: SessionEvent): SessionEvent {
  const out: Record<string, unknown> = {}
  for (const key of EVENT_KEYS) {
    const value = event[key]
    if (value !== undefined) out[key] = value
  }
  if (out.previousState === undefined) out.previousState = null
  return out as unknown as SessionEvent
}

function parseEvent(text: string): SessionEvent | undefined {
  try {
    const v = JSON.parse(text) as Partial<SessionEvent> | null
    if (
      v === null ||
      typeof v !== 'object' ||
      typeof v.sessionId !== 'string' ||
      typeof v.at !== 'number' ||
      typeof v.state !== 'string'
    ) {
      return undefined
    }
    return v as SessionEvent
  } catch {
    return undefined
  }
}
