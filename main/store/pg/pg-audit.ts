/**
 * The cadre's audit trail in the `audit` table. Appends are batched (one INSERT every `flushMs`, then the
 * events are announced so every node's console shows every node's sessions live); memory
 * keeps a ring of the newest events of the whole cadre for listAudit, older ones are queried.
 *
 * Issue G: every record (session events and operator records alike) is chained per node
 * (pg-audit-chain.ts); operator records go to the table only, the ring holds session events.
 */
import type { Pool, QueryConfig, QueryResult, QueryResultRow } from 'pg'
import type { AuditQuery } from '../../../preload/contract.ts'
import type { SessionEvent } from '../../bootstrap/types.ts'
import { chainHash } from '../audit-chain.ts'
import type { ChainReport } from '../audit-chain.ts'
import { AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT, AUDIT_MEMORY_EVENTS } from '../audit-log.ts'
import type { OperatorRecord } from '../audit-log.ts'
import { pickEvent } from '../audit-records.ts'
import { chainHeadOf, verifyCadreChain } from './pg-audit-chain.ts'
import { auditPayloads } from './notify.ts'
import type { PgNotifier } from './pg-notifier.ts'

/** Events waiting for the database are capped so an outage cannot eat the memory. */
const MAX_UNWRITTEN = 50_000

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
  /** Records waiting to be written, as the text that is hashed and stored. */
  #pending: Array<{ sessionId: string; at: number; text: string; event?: SessionEvent }> = []
  /** This node's last chained hash (read at the first write). */
  #head: string | undefined
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
    this.#queue({ sessionId: clean.sessionId, at: clean.at, text: JSON.stringify(clean), event: clean })
  }

  /** Record an operator action (who did what); never throws. */
  appendOp(record: OperatorRecord): void {
    try {
      this.#queue({ sessionId: record.sessionId ?? '', at: record.at, text: JSON.stringify(record) })
    } catch {
      // the audit never fails a command
    }
  }

  #queue(entry: { sessionId: string; at: number; text: string; event?: SessionEvent }): void {
    this.#pending.push(entry)
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
       WHERE event ? 'state' AND ($1::text IS NULL OR session_id = $1) AND ($2::bigint IS NULL OR at < $2)
       ORDER BY at DESC, id DESC LIMIT $3`,
      [sessionId ?? null, before ?? null, limit]
    )
    return res.rows.map((r) => r.event)
  }

  /** Records of the whole cadre's trail (events and operator records), newest first, that `match` keeps. */
  async queryRecords(
    match: (record: Record<string, unknown>) => boolean,
    limit: number,
    until?: (record: Record<string, unknown>) => boolean
  ): Promise<Array<Record<string, unknown>>> {
    await this.flush()
    const out: Array<Record<string, unknown>> = []
    let before = Number.MAX_SAFE_INTEGER
    for (;;) {
      const res = await this.#init.pool.query<{ id: number; event: Record<string, unknown> }>(
        'SELECT id, event FROM audit WHERE id < $1 ORDER BY id DESC LIMIT 1000',
        [before]
      )
      for (const { id, event } of res.rows) {
        before = Number(id)
        if (until?.(event) === true) return out
        if (!match(event)) continue
        out.push(event)
        if (out.length >= limit) return out
      }
      if (res.rows.length < 1000) return out
    }
  }

  /** Check every node's hash chain (what this node appended so far is written first). */
  async verify(): Promise<ChainReport> {
    await this.flush()
    return verifyCadreChain(this.#init.pool, this.#init.node)
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

  /**
   * Write what is pending and run `then` in the same statement (the records as data-modifying CTEs before
   * it, their parameters after its own): one round trip and one commit instead of two, and the records are
   * in the trail whenever `then`'s row is. `then` must be a named statement of one INSERT or UPDATE. If
   * the statement fails with records in it, the records go back to the queue and `then` runs alone, so a
   * batch the database refuses cannot fail the bootstrap that carries it (the trail is best effort here).
   */
  async flushWith<R extends QueryResultRow>(
    then: QueryConfig & { name: string; values: unknown[] }
  ): Promise<QueryResult<R>> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const { pool, node } = this.#init
    const run = this.#writing.then(async () => {
      const batch = this.#pending.splice(0)
      if (batch.length === 0) return pool.query<R>(then)
      let head = this.#head
      try {
        head ??= await chainHeadOf(pool, node)
        const { rows, head: next } = chained(head, batch)
        const n = then.values.length
        const res = await pool.query<R>({
          name: `${then.name}+audit`,
          text: `WITH audit_rows AS (${auditInsert(n + 1)}), audit_head AS (${headUpdate(n + 1, n + 3)}) ${then.text}`,
          values: [...then.values, node, JSON.stringify(rows), next]
        })
        this.#written(next, batch)
        return res
      } catch {
        this.#pending.unshift(...batch)
        this.#timer ??= setTimeout(() => void this.flush(), 1000)
        return pool.query<R>(then)
      }
    })
    this.#writing = run.then(
      () => undefined,
      () => undefined
    )
    return run
  }

  /** Stop the timer and write the rest. */
  async close(): Promise<void> {
    await this.flush()
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  async #write(
    batch: Array<{ sessionId: string; at: number; text: string; event?: SessionEvent }>
  ): Promise<void> {
    const { pool, node } = this.#init
    const { rows, head } = chained(this.#head ?? (await chainHeadOf(pool, node)), batch)
    // the records and the node's new head in one statement: both or neither
    await pool.query({
      name: 'taleus-audit-append',
      text: `WITH ins AS (${auditInsert(1)}) ${headUpdate(1, 3)}`,
      values: [node, JSON.stringify(rows), head]
    })
    this.#written(head, batch)
  }

  /** `batch` is in the table and `head` is the node's head: announce its events. */
  #written(head: string, batch: Array<{ event?: SessionEvent }>): void {
    this.#head = head
    const events = batch.flatMap((e) => (e.event === undefined ? [] : [e.event]))
    for (const payload of auditPayloads(this.#init.node, events)) this.#init.notifier.send(payload)
  }
}

/** `batch` chained on from `head`, as the rows the audit INSERT takes, and the new head. */
function chained(
  head: string,
  batch: Array<{ sessionId: string; at: number; text: string }>
): { rows: Array<Record<string, unknown>>; head: string } {
  const rows = batch.map((e) => {
    const prev = head
    head = chainHash(prev, e.text)
    return { s: e.sessionId, at: e.at, body: e.text, prev, h: head }
  })
  return { rows, head }
}

/** INSERT of a batch's rows; its node is parameter $first, the rows (jsonb) $first+1. */
function auditInsert(first: number): string {
  return `INSERT INTO audit (node, session_id, at, event, body, prev_hash, hash)
    SELECT $${first}, r->>'s', (r->>'at')::bigint, (r->>'body')::jsonb, r->>'body', r->>'prev', r->>'h'
    FROM jsonb_array_elements($${first + 1}::jsonb) AS r`
}

/** UPDATE of the node's chain head; the node is parameter $node, the head $head. */
function headUpdate(node: number, head: number): string {
  return `UPDATE nodes SET audit_head = $${head} WHERE node = $${node}`
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
