/**
 * The shared tally database's backend on the cadre's PostgreSQL (issue J holding issue I's documents):
 * the documents' storage and index every node of the cadre reads and writes, and the notes by which each
 * node learns what the others changed (a chunk to merge into a document it holds open, an index entry).
 */
import type { Pool } from 'pg'
import type { SharedChanges, TallyDbBackend } from '../../tallydb/backend-types.ts'
import type { CadreNote } from './notify.ts'
import type { PgNotifier } from './pg-notifier.ts'
import { PgTallyIndex } from './pg-tally-index.ts'
import { PgTallyStorage } from './pg-tally-storage.ts'

/** What the backend needs from its store. */
export interface PgTallyDocsInit {
  pool: Pool
  notifier: PgNotifier
  node: string
}

/** The documents and index of the cadre, and the follower told of other nodes' changes. */
export class PgTallyDocs implements TallyDbBackend {
  readonly storage: PgTallyStorage
  readonly index: PgTallyIndex
  #changes: SharedChanges | undefined

  private constructor(init: PgTallyDocsInit) {
    this.storage = new PgTallyStorage(init)
    this.index = new PgTallyIndex(init)
  }

  /** The backend with its index mirror loaded. */
  static async open(init: PgTallyDocsInit): Promise<PgTallyDocs> {
    const docs = new PgTallyDocs(init)
    await docs.index.reload()
    return docs
  }

  follow(changes: SharedChanges): void {
    this.#changes = changes
    this.index.follow((entry) => changes.entry(entry))
  }

  /** Another node's note about the documents (its own notes never come back: the listener drops them). */
  note(note: Extract<CadreNote, { k: 'tdoc' | 'tidx' }>): void {
    if (note.k === 'tidx') {
      this.index.apply(note.entry, note.rev)
      return
    }
    const key = note.key
    if (!Array.isArray(key) || key.length < 2 || !key.every((k) => typeof k === 'string')) return
    const data = typeof note.d === 'string' ? new Uint8Array(Buffer.from(note.d, 'base64')) : undefined
    this.#changes?.chunk(key[0]!, key, data)
  }

  /** Notes may have been missed: read the index again and merge the open documents' chunks. */
  async resumed(): Promise<void> {
    await this.index.reload()
    this.#changes?.resumed()
  }
}
