/**
 * The cadre's tallies: the `tallies` table, where each status change is one conditional statement whose
 * row is then announced to the other nodes (without the counterparty's database credentials; by id alone
 * when the row is too big for a payload), and this node's mirror of every node's tallies.
 */
import type { Pool } from 'pg'
import type { RowsStatement } from './pg-audit.ts'
import type { TallyView } from '../../views/console-views.ts'
import type { PageQuery } from '../../views/console-queries.ts'
import { RejectedError } from '../../bootstrap/errors.ts'
import { pageOf } from '../paging.ts'
import { slim, tallyView } from '../tally-book.ts'
import type { TallyRecord } from '../tally-book.ts'
import { MAX_PAYLOAD } from './notify.ts'
import type { PgNotifier } from './pg-notifier.ts'
import { notifiable, tallyFromRow } from './pg-rows.ts'
import type { NodeTally, TallyRow } from './pg-rows.ts'

/** An abandoned tally keeps no identity, cadre or credentials (as in the lowdb journal). */
const SLIM_SQL = `(record - 'counterpartyIdentity' - 'counterpartyCadre')
  || '{"dbConnectionInfo": {"nodes": [], "credentials": ""}}'::jsonb`

const COLUMNS = 'tally_id, status, node, updated_at, record, rev'

/** New drafts, from a jsonb array of draftRow objects ($1): one statement for any number of them. */
const INSERT_DRAFTS = `INSERT INTO tallies (tally_id, status, direction, node, session_id, token_id,
    counterparty_peer_id, created_at, updated_at, record)
  SELECT tally_id, status, direction, node, session_id, token_id, counterparty_peer_id, created_at,
    updated_at, record
  FROM jsonb_to_recordset($1::jsonb) AS d(tally_id text, status text, direction text, node text,
    session_id text, token_id text, counterparty_peer_id text, created_at bigint, updated_at bigint,
    record jsonb)`

/** A draft as one element of INSERT_DRAFTS' array. */
function draftRow(record: TallyRecord, node: string): Record<string, unknown> {
  return {
    tally_id: record.tallyId,
    status: record.status,
    direction: record.direction,
    node,
    session_id: record.sessionId,
    token_id: record.tokenId ?? null,
    counterparty_peer_id: record.counterpartyPeerId,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    record
  }
}

/** What the tally table needs from its store. */
export interface PgTalliesInit {
  pool: Pool
  notifier: PgNotifier
  node: string
  now: () => number
  /** A tally changed (here or on another node): the console's event. */
  changed(view: TallyView): void
}

/** The view of a cadre tally: with the node that holds its session. */
export function nodeTallyView(r: NodeTally): TallyView & { node: string } {
  return { ...tallyView(r), node: r.node }
}

/** The tally table of a cadre node. */
export class PgTallies {
  #init: PgTalliesInit
  #tallies = new Map<string, { record: NodeTally; rev: number }>()

  constructor(init: PgTalliesInit) {
    this.#init = init
  }

  get(tallyId: string): NodeTally | undefined {
    return this.#tallies.get(tallyId)?.record
  }

  has(tallyId: string): boolean {
    return this.#tallies.has(tallyId)
  }

  /** Every tally of the cadre in no promised order. */
  records(): NodeTally[] {
    return [...this.#tallies.values()].map((e) => e.record)
  }

  /** Newest first; with a query a page at a time. */
  list(query?: PageQuery): TallyView[] {
    const records = this.records()
    if (query === undefined) return records.sort((a, b) => b.createdAt - a.createdAt).map(nodeTallyView)
    return pageOf(
      records,
      (t) => t.createdAt,
      (t) => t.tallyId,
      query
    ).map(nodeTallyView)
  }

  /**
   * Insert a new tally of this node; a duplicate id fails with the database's unique violation (23505).
   * `run` sends the statement (the audit trail's flushWith: the session's records go in the same one,
   * and drafts queued together go as one statement).
   */
  async insert(record: TallyRecord, run: (statement: RowsStatement) => Promise<void>): Promise<void> {
    const { node } = this.#init
    await run({ name: 'taleus-tally-insert', text: INSERT_DRAFTS, rows: [draftRow(record, node)] })
    // a new row's rev is the column's default: nothing comes back (no row to parse per bootstrap)
    this.#changed({
      tally_id: record.tallyId,
      status: record.status,
      node,
      updated_at: record.updatedAt,
      record,
      rev: 0
    })
  }

  /**
   * `from` → `outcome`, once, in one statement (draft → any, pending → a verdict). A confirmation of a
   * tally whose token was revoked meanwhile (on any node) fails with token-revoked: the revocation is
   * seen before we answer. Returns whether the tally changed.
   */
  async settle(tallyId: string, outcome: string, from: 'draft' | 'pending'): Promise<boolean> {
    const { pool, now } = this.#init
    const res = await pool.query<TallyRow>({
      name: 'taleus-tally-settle',
      text: `UPDATE tallies SET status = $2, updated_at = $3, rev = rev + 1,
         record = CASE WHEN $2 = 'abandoned' THEN ${SLIM_SQL} ELSE record END
       WHERE tally_id = $1 AND status = $4
         AND ($2 <> 'confirmed' OR direction = 'outbound' OR token_id IS NULL
           OR NOT EXISTS (SELECT 1 FROM tokens k WHERE k.token_id = tallies.token_id AND k.revoked))
       RETURNING tally_id, status, node, updated_at, rev`,
      values: [tallyId, outcome, now(), from]
    })
    const row = res.rows[0] as Omit<TallyRow, 'record'> | undefined
    if (row !== undefined) {
      // the record as the table now holds it, from ours (the mirror has every tally of this node)
      const known = this.get(tallyId)
      if (known === undefined) await this.fetch(tallyId)
      else this.#changed({ ...row, record: row.status === 'abandoned' ? slim(known) : known })
      return true
    }
    if (outcome !== 'confirmed' || from !== 'draft') return false
    const held = await pool.query<{ status: string; revoked: boolean | null }>(
      `SELECT t.status, k.revoked FROM tallies t LEFT JOIN tokens k ON k.token_id = t.token_id
       WHERE t.tally_id = $1`,
      [tallyId]
    )
    if (held.rows[0]?.status === 'draft' && held.rows[0].revoked === true)
      throw new RejectedError('token-revoked')
    return false
  }

  /**
   * Settle the drafts no session will finish: `node`'s own (but `keep`), and those of nodes silent for
   * `staleMs`. Inbound ones become abandoned, outbound ones pending. Returns the changed views.
   */
  async recover(keep: string[], staleMs: number): Promise<TallyView[]> {
    const { pool, now, node } = this.#init
    const res = await pool.query<TallyRow>(
      `WITH gone AS (
         SELECT node FROM nodes
         WHERE node <> $2 AND seen_at < now() - make_interval(secs => $3::double precision / 1000)
       )
       UPDATE tallies SET updated_at = $1, rev = rev + 1,
         status = CASE WHEN direction = 'outbound' THEN 'pending' ELSE 'abandoned' END,
         record = CASE WHEN direction = 'outbound' THEN record ELSE ${SLIM_SQL} END
       WHERE status = 'draft'
         AND ((node = $2 AND NOT (tally_id = ANY($4::text[]))) OR node IN (SELECT node FROM gone))
       RETURNING ${COLUMNS}`,
      [now(), node, staleMs, keep]
    )
    for (const row of res.rows) this.#changed(row)
    return res.rows.map((row) => nodeTallyView(tallyFromRow(row)))
  }

  /** Keep the newest revision of a row; a confirmed tally is never downgraded, whatever the order. */
  apply(row: TallyRow, announce: boolean): void {
    const rev = Number(row.rev)
    const current = this.#tallies.get(row.tally_id)
    if (current !== undefined && current.rev >= rev) return
    if (current?.record.status === 'confirmed' && row.status !== 'confirmed') return
    const record = tallyFromRow(row)
    this.#tallies.set(record.tallyId, { record, rev })
    if (announce) this.#init.changed(nodeTallyView(record))
  }

  /** A tally announced by id only (too big for a payload): read it. */
  async fetch(tallyId: string): Promise<void> {
    const res = await this.#init.pool
      .query<TallyRow>(`SELECT ${COLUMNS} FROM tallies WHERE tally_id = $1`, [tallyId])
      .catch(() => undefined)
    const row = res?.rows[0]
    if (row !== undefined) this.apply({ ...row, record: notifiable(row.record) }, true)
  }

  /** A change this node made: into the mirror, to the console, and to the other nodes. */
  #changed(row: TallyRow): void {
    this.apply(row, true)
    const { node, notifier } = this.#init
    const note = JSON.stringify({ k: 'tally', n: node, row: { ...row, record: notifiable(row.record) } })
    notifier.send(
      Buffer.byteLength(note) <= MAX_PAYLOAD
        ? note
        : JSON.stringify({ k: 'tally', n: node, id: row.tally_id })
    )
  }

  /** Read the whole table into the mirror (at start, and after a lost notification connection). */
  async load(): Promise<void> {
    const res = await this.#init.pool.query<TallyRow>(`SELECT ${COLUMNS} FROM tallies`)
    for (const row of res.rows) this.apply(row, true)
  }
}
