/**
 * The cadre's audit trail in the `audit` table. Appends are batched (one INSERT every `flushMs`, then the
 * events are announced so every node's console shows every node's sessions live); memory
 * keeps a ring of the newest events of the whole cadre for listAudit, older ones are queried.
 *
 * Issue G: every record (session events and operator records alike) is chained per node
 * (pg-audit-chain.ts); operator records go to the table only, the ring holds session events.
 */
import type { Pool } from 'pg'
import type { AuditQuery } from '../../views/console-queries.ts'
import type { SessionEvent } from '../../bootstrap/types.ts'
import { chainHash } from '../audit-chain.ts'
import type { ChainReport } from '../audit-chain.ts'
import { AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT, AUDIT_MEMORY_EVENTS } from '../audit-log.ts'
import type { OperatorRecord } from '../audit-log.ts'
import { pickEvent } from '../audit-records.ts'
import { chainHeadOf, verifyCadreChain } from './pg-audit-chain.ts'
import { auditPayloads } from './notify.ts'
import type { PgNotifier } from './pg-notifier.ts'

/** A named statement whose rows are its one parameter, a jsonb array: calls of one name combine. */
export interface RowsStatement {
  name: string
  /** The statement, its rows as `$1::jsonb` (further parameters follow it in the combined form). */
  text: string
  rows: unknown[]
}

interface Carried {
  then: RowsStatement
  done: { resolve: () => void; reject: (err: unknown) => void }
}

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
  /** flushWith calls waiting for the next write. */
  #carried: Carried[] = []
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
   * it): one round trip and one commit instead of two, and the records are in the trail whenever `then`'s
   * rows are. `then` is a named INSERT or UPDATE that takes its rows as one jsonb array ($1): the calls
   * queued while a write is in flight go as one statement, their rows together (in a rush dozens of
   * drafts wait behind each commit, measured in docs/performance.md). If that statement fails, the records
   * go back to the queue and each call's rows run alone, so a batch the database refuses, or a row of
   * another session (a duplicate id), fails no bootstrap but its own.
   */
  async flushWith(then: RowsStatement): Promise<void> {
    let done: Carried['done'] | undefined
    const promise = new Promise<void>((resolve, reject) => {
      done = { resolve, reject }
    })
    this.#carried.push({ then, done: done! })
    if (this.#carried.length === 1) {
      clearTimeout(this.#timer)
      this.#timer = undefined
      // one link of the chain takes every call queued by the time it runs
      this.#writing = this.#writing.then(async () => this.#writeCarried())
    }
    return promise
  }

  async #writeCarried(): Promise<void> {
    const calls = this.#carried.splice(0)
    const { pool, node } = this.#init
    const byName = new Map<string, Carried[]>()
    for (const c of calls) {
      const group = byName.get(c.then.name)
      if (group === undefined) byName.set(c.then.name, [c])
      else group.push(c)
    }
    for (const [name, group] of byName) {
      const { text } = group[0]!.then
      const rows = JSON.stringify(group.flatMap((c) => c.then.rows))
      const batch = this.#pending.splice(0)
      try {
        if (batch.length === 0) {
          await pool.query({ name, text, values: [rows] })
        } else {
          const { rows: records, head } = chained(this.#head ?? (await chainHeadOf(pool, node)), batch)
          await pool.query({
            name: `${name}+audit`,
            text: `WITH audit_rows AS (${auditInsert(2)}), audit_head AS (${headUpdate(2, 4)}) ${text}`,
            values: [rows, node, JSON.stringify(records), head]
          })
          this.#written(head, batch)
        }
        for (const c of group) c.done.resolve()
      } catch (err) {
        if (batch.length > 0) {
          this.#pending.unshift(...batch)
          this.#timer ??= setTimeout(() => void this.flush(), 1000)
        } else if (group.length === 1) {
          // that was this call alone already: running it again would only repeat the answer
          group[0]!.done.reject(err)
          continue
        }
        for (const c of group) {
          await pool.query({ name, text, values: [JSON.stringify(c.then.rows)] }).then(
            () => c.done.resolve(),
            (err: unknown) => c.done.reject(err)
          )
        }
      }
    }
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
