/**
 * The tally documents' index on the cadre's PostgreSQL (`tally_docs`): which document is which tally, its
 * counterparty, provisioner or opener, the opener's sealed grant, revoked. Every node keeps a mirror of
 * it (the TallyDb reads it synchronously, like the folder's index), loaded at start and kept current from
 * the `tidx` notes each write sends (a row's `rev` keeps the newest whatever the order). A revocation is
 * sticky in the statement itself, and a grant is checked against the row as it is now (load()), so a
 * revocation committed on any node is honoured by every node from then on.
 */
import type { Pool } from 'pg'
import type { TallyIndexStore } from '../../tallydb/backend-types.ts'
import type { IndexEntry } from '../../tallydb/tally-index.ts'
import { MAX_PAYLOAD } from './notify.ts'
import type { PgNotifier } from './pg-notifier.ts'

/** What the index needs from its store. */
export interface PgTallyIndexInit {
  pool: Pool
  notifier: PgNotifier
  /** This node's name (the sender of its notes). */
  node: string
}

/** The entry with the row's revoked flag (the column decides). */
const ENTRY_SQL = `entry || jsonb_build_object('revoked', revoked) AS entry, rev`

/** The cadre's tallyId → document table, and this node's mirror of it. */
export class PgTallyIndex implements TallyIndexStore {
  readonly #init: PgTallyIndexInit
  readonly #entries = new Map<string, { entry: IndexEntry; rev: number }>()
  readonly #byDocument = new Map<string, string>()
  /** tallyIds by counterparty PeerId: a connection's events look up its own tallies, not every tally. */
  readonly #byCounterparty = new Map<string, Set<string>>()
  /** Told of every entry the mirror took from another node: by a note, a reload or a load(). */
  #changed: ((entry: IndexEntry) => void) | undefined

  constructor(init: PgTallyIndexInit) {
    this.#init = init
  }

  /** Tell `changed` of each entry another node wrote, whichever way this node learnt it first. */
  follow(changed: (entry: IndexEntry) => void): void {
    this.#changed = changed
  }

  /** Read the whole table into the mirror (at start, and after notes may have been missed). */
  async reload(): Promise<void> {
    const r = await this.#init.pool.query<{ entry: IndexEntry; rev: number }>(
      `SELECT ${ENTRY_SQL} FROM tally_docs`
    )
    for (const row of r.rows) this.apply(row.entry, row.rev)
  }

  get(tallyId: string): IndexEntry | undefined {
    return this.#entries.get(tallyId)?.entry
  }

  tallyOf(documentId: string): string | undefined {
    return this.#byDocument.get(documentId)
  }

  *values(): IterableIterator<IndexEntry> {
    for (const e of this.#entries.values()) yield e.entry
  }

  withCounterparty(peer: string): IndexEntry[] {
    return [...(this.#byCounterparty.get(peer) ?? [])].map((id) => this.#entries.get(id)!.entry)
  }

  opened(peer?: string): IndexEntry[] {
    const entries = peer === undefined ? [...this.values()] : this.withCounterparty(peer)
    return entries.filter((e) => !e.provisioner)
  }

  get size(): number {
    return this.#entries.size
  }

  /** Write an entry (a revocation stays: `revoked` is never set back), mirror it and tell the cadre. */
  async put(entry: IndexEntry): Promise<void> {
    const { revoked, ...rest } = entry
    const r = await this.#init.pool.query<{ entry: IndexEntry; rev: number }>(
      `INSERT INTO tally_docs AS t (tally_id, document_id, revoked, entry) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tally_id) DO UPDATE
         SET revoked = t.revoked OR EXCLUDED.revoked, entry = EXCLUDED.entry, rev = t.rev + 1
       RETURNING ${ENTRY_SQL}`,
      [entry.tallyId, entry.documentId, revoked === true, JSON.stringify(rest)]
    )
    const row = r.rows[0]!
    // our own write: the TallyDb that made it acts on it itself
    this.#mirror(row.entry, row.rev)
    const note = JSON.stringify({ k: 'tidx', n: this.#init.node, entry: row.entry, rev: row.rev })
    // an entry is small (at most 16 addresses); one that is not is found by load() when it is asked for
    if (note.length <= MAX_PAYLOAD) this.#init.notifier.send(note)
  }

  /** The row as it is now, mirrored; undefined when the cadre has no document for this tally. */
  async load(tallyId: string): Promise<IndexEntry | undefined> {
    const r = await this.#init.pool.query<{ entry: IndexEntry; rev: number }>(
      `SELECT ${ENTRY_SQL} FROM tally_docs WHERE tally_id = $1`,
      [tallyId]
    )
    const row = r.rows[0]
    if (row === undefined) return undefined
    this.apply(row.entry, row.rev)
    return this.get(tallyId)
  }

  /** Mirror another node's `entry` at `rev` unless the mirror holds it or a newer one (then the follower is told). */
  apply(entry: IndexEntry, rev: number): void {
    if (this.#mirror(entry, rev)) this.#changed?.(entry)
  }

  /** True when `entry` at `rev` changed the mirror. */
  #mirror(entry: IndexEntry, rev: number): boolean {
    if (!isEntry(entry)) return false
    const held = this.#entries.get(entry.tallyId)
    if (held !== undefined && held.rev >= rev) return false
    this.#entries.set(entry.tallyId, { entry, rev })
    this.#byDocument.set(entry.documentId, entry.tallyId)
    let ids = this.#byCounterparty.get(entry.counterpartyPeerId)
    if (ids === undefined) this.#byCounterparty.set(entry.counterpartyPeerId, (ids = new Set()))
    ids.add(entry.tallyId)
    return true
  }

  /** The pool is the store's: it closes with the store. */
  async close(): Promise<void> {}
}

/** A note comes from another node (maybe another version): only a well-formed entry is mirrored. */
function isEntry(e: unknown): e is IndexEntry {
  const v = e as Partial<IndexEntry> | null
  return (
    v !== null &&
    typeof v === 'object' &&
    typeof v.tallyId === 'string' &&
    typeof v.documentId === 'string' &&
    typeof v.counterpartyPeerId === 'string' &&
    typeof v.provisioner === 'boolean' &&
    typeof v.createdAt === 'number'
  )
}
