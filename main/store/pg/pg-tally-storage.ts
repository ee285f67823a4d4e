/**
 * automerge-repo storage on the cadre's PostgreSQL (`tally_chunks`), so every node of the cadre loads every
 * tally's document. Each save is one upsert (committed when save() returns: the database's group commit
 * replaces the journal's); a saved document chunk is then announced to the other nodes (`tdoc`, with its
 * bytes when they fit a payload) so a node holding that document open merges it at once.
 */
import type { Chunk, StorageKey } from '@automerge/automerge-repo/slim'
import type { Pool } from 'pg'
import type { TallyStorage } from '../../tallydb/backend-types.ts'
import { MAX_PAYLOAD } from './notify.ts'
import type { PgNotifier } from './pg-notifier.ts'

/** What the storage needs from its store. */
export interface PgTallyStorageInit {
  pool: Pool
  notifier: PgNotifier
  /** This node's name (the sender of its notes). */
  node: string
}

/** A StorageAdapterInterface over the `tally_chunks` table. */
export class PgTallyStorage implements TallyStorage {
  readonly #init: PgTallyStorageInit

  constructor(init: PgTallyStorageInit) {
    this.#init = init
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    const r = await this.#init.pool.query<{ data: Buffer }>('SELECT data FROM tally_chunks WHERE key = $1', [
      key
    ])
    const data = r.rows[0]?.data
    return data === undefined ? undefined : new Uint8Array(data)
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    if (this.#ended()) return
    await this.#init.pool.query(
      `INSERT INTO tally_chunks (key, doc, data) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data`,
      [key, key[0] ?? '', Buffer.from(data.buffer, data.byteOffset, data.byteLength)]
    )
    if (key[1] === 'snapshot' || key[1] === 'incremental') this.#announce(key, data)
  }

  async remove(key: StorageKey): Promise<void> {
    if (this.#ended()) return
    await this.#init.pool.query('DELETE FROM tally_chunks WHERE key = $1', [key])
  }

  async loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    const { where, params } = prefixClause(keyPrefix)
    const r = await this.#init.pool.query<{ key: string[]; data: Buffer }>(
      `SELECT key, data FROM tally_chunks ${where} ORDER BY seq`,
      params
    )
    return r.rows.map((row) => ({ key: row.key, data: new Uint8Array(row.data) }))
  }

  async removeRange(keyPrefix: StorageKey): Promise<void> {
    if (this.#ended()) return
    const { where, params } = prefixClause(keyPrefix)
    await this.#init.pool.query(`DELETE FROM tally_chunks ${where}`, params)
  }

  /** The pool is the store's: it closes with the store. */
  async close(): Promise<void> {}

  /**
   * The store closed its pool: automerge-repo's throttled compaction may still run after its shutdown
   * flushed every document, and would otherwise end in an unhandled rejection; there is nothing to write.
   */
  #ended(): boolean {
    const pool = this.#init.pool as { ending?: boolean; ended?: boolean }
    return pool.ending === true || pool.ended === true
  }

  #announce(key: StorageKey, data: Uint8Array): void {
    const { node, notifier } = this.#init
    const withData = JSON.stringify({ k: 'tdoc', n: node, key, d: Buffer.from(data).toString('base64') })
    // too big for a payload: the other nodes read it by its key
    notifier.send(withData.length <= MAX_PAYLOAD ? withData : JSON.stringify({ k: 'tdoc', n: node, key }))
  }
}

/** The WHERE clause of the keys starting with `prefix` (the document id first: the index's column). */
function prefixClause(prefix: StorageKey): { where: string; params: unknown[] } {
  if (prefix.length === 0) return { where: '', params: [] }
  if (prefix.length === 1) return { where: 'WHERE doc = $1', params: [prefix[0]] }
  return { where: 'WHERE doc = $1 AND key[1:$2] = $3::text[]', params: [prefix[0], prefix.length, prefix] }
}
