/**
 * The cadre's audit trail in the `audit` table. Appends are batched (one INSERT every `flushMs`, then the
 * events are announced so every node's console shows every node's sessions live); memory
 * keeps a ring of the newest events of the whole cadre for listAudit, older ones are queried.
 *
 * Seam for issue G's hash chain: the table has `prev_hash` and `hash`; until the chain's helpers are
 * shared by both stores they stay NULL (see docs/architecture.md).
 */
import type { Pool } from 'pg'
import type { AuditQuery } from '../../../preload/contract.ts'
import type { SessionEvent } from '../../bootstrap/types.ts'
import { AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT, AUDIT_MEMORY_EVENTS } from '../audit-log.ts'
import { auditPayloads } from './notify.ts'
import type { PgNotifier } from './pg-notifier.ts'

/** Events waiting for the database are capped so an outage cannot eat the memory. */
const MAX_UNWRITTEN = 50_000

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

/** Keep only the fields a SessionEvent has (as the lowdb trail does), so nothing else (never a token) is stored. */
export function pickEvent(event: SessionEvent): SessionEvent {
  const out: Record<string, unknown> = {}
  for (const key of EVENT_KEYS) {
    const value = event[key]
    if (value !== undefined) out[key] = value
  }
  if (out.previousState === undefined) out.previousState = null
  return out as unknown as SessionEvent
}

/** Options of the trail. */
export interface PgAuditInit {
  pool: Pool
  notifier: PgNotifier
  node: string
  flushMs?: number
  memoryEvents?: number
}

/** The audit trail of a cadre node. */
export class PgAudit {
  #init: PgAuditInit
  #ring: SessionEvent[] = []
  #cap: number
  #pending: SessionEvent[] = []
  #timer: ReturnType<typeof setTimeout> | undefined
  #writing: Promise<void> = Promise.resolve()
  /** Events dropped because the database stayed unreachable past the cap. */
  dropped = 0

  constructor(init: PgAuditInit) {
    this.#init = init
    this.#cap = Math.max(1, init.memoryEvents ?? AUDIT_MEMORY_EVENTS)
  }

  /** Record an event of this node; never throws. */
  append(event: SessionEvent): void {
    const clean = pickEvent(event)
    this.remember(clean)
    this.#pending.push(clean)
    if (this.#pending.length > MAX_UNWRITTEN) {
      this.#pending.shift()
      this.dropped++
    }
    this.#timer ??= setTimeout(() => void this.flush(), this.#init.flushMs ?? 100)
  }

  /** Keep an event in the ring (ours, or another node's from a notification), oldest dropped first. */
  remember(event: SessionEvent): void {
    this.#ring.push(event)
    if (this.#ring.length > this.#cap * 2) this.#ring.splice(0, this.#ring.length - this.#cap)
  }

  /** Recent events of the cadre from memory, newest first (by time). */
  list(query: AuditQuery = {}): SessionEvent[] {
    const { limit, before, sessionId } = normalise(query)
    const out: SessionEvent[] = []
    const start = Math.max(0, this.#ring.length - this.#cap)
    for (let i = this.#ring.length - 1; i >= start && out.length < limit; i--) {
      const e = this.#ring[i] as SessionEvent
      if (sessionId !== undefined && e.sessionId !== sessionId) continue
      if (before !== undefined && e.at >= before) continue
      out.push(e)
    }
    return out
  }

  /** The whole trail in the database, newest first. */
  async query(query: AuditQuery = {}): Promise<SessionEvent[]> {
    await this.flush()
    const { limit, before, sessionId } = normalise(query)
    const res = await this.#init.pool.query<{ event: SessionEvent }>(
      `SELECT event FROM audit
       WHERE ($1::text IS NULL OR session_id = $1) AND ($2::bigint IS NULL OR at < $2)
       ORDER BY at DESC, id DESC LIMIT $3`,
      [sessionId ?? null, before ?? null, limit]
    )
    return res.rows.map((r) => r.event)
  }

  /** Write what is pending (and wait for writes in flight). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const batch = this.#pending.splice(0)
    if (batch.length > 0) {
      this.#writing = this.#writing.then(async () => {
        try {
          await this.#write(batch)
        } catch {
          // kept for the next flush: the database may be back by then
          this.#pending.unshift(...batch)
          this.#timer ??= setTimeout(() => void this.flush(), 1000)
        }
      })
    }
    await this.#writing
  }

  /** Stop the timer and write the rest. */
  async close(): Promise<void> {
    await this.flush()
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  async #write(batch: SessionEvent[]): Promise<void> {
    const { pool, node, notifier } = this.#init
    await pool.query(
      `INSERT INTO audit (node, session_id, at, event)
       SELECT $1, e->>'sessionId', (e->>'at')::bigint, e FROM jsonb_array_elements($2::jsonb) AS e`,
      [node, JSON.stringify(batch)]
    )
    for (const payload of auditPayloads(node, batch)) notifier.send(payload)
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
