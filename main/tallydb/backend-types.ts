/**
 * Where a TallyDb keeps its documents and its index. By default both are files in DIR/tallydb
 * (JournalStorageAdapter, TallyIndex); a backend puts them somewhere several nodes share (the cadre's
 * PostgreSQL, main/store/pg/pg-tally-docs.ts) and tells the TallyDb what the other nodes change.
 */
import type { StorageAdapterInterface, StorageKey } from '@automerge/automerge-repo/slim'
import type { IndexEntry } from './tally-index.ts'

/** automerge-repo storage that the TallyDb closes with itself. */
export interface TallyStorage extends StorageAdapterInterface {
  close(): Promise<void>
}

/** The tallyId → document table a TallyDb reads synchronously (TallyIndex is the folder's). */
export interface TallyIndexStore {
  get(tallyId: string): IndexEntry | undefined
  /** The tallyId whose document is `documentId`. */
  tallyOf(documentId: string): string | undefined
  values(): IterableIterator<IndexEntry>
  /** Every entry whose counterparty is `peer`. */
  withCounterparty(peer: string): IndexEntry[]
  /** The entries this node opened (not provisioned): all, or those provisioned by `peer`. */
  opened(peer?: string): IndexEntry[]
  readonly size: number
  /** The document's first state as the entry keeps it (handed over in the bootstrap), if it does. */
  firstState?(documentId: string): Uint8Array | undefined
  /** Write an entry durably, then apply it. */
  put(entry: IndexEntry): Promise<void>
  close(): Promise<void>
  /**
   * The entry as the shared store holds it now (another node may have added or revoked it since this
   * node heard); absent for an index only this node writes. A grant is checked against this.
   */
  load?(tallyId: string): Promise<IndexEntry | undefined>
}

/** What other nodes changed in a shared backend, as the backend tells the TallyDb following it. */
export interface SharedChanges {
  /** Another node stored a chunk of `documentId`: its bytes, or undefined when they must be loaded by key. */
  chunk(documentId: string, key: StorageKey, data: Uint8Array | undefined): void
  /** Another node wrote an index entry (a new tally, a revocation); the index has applied it already. */
  entry(entry: IndexEntry): void
  /** Changes may have been missed (the backend lost its notifications for a while). */
  resumed(): void
}

/** Storage and index shared with other nodes, and how to follow what those nodes change. */
export interface TallyDbBackend {
  storage: TallyStorage
  index: TallyIndexStore
  /** Start telling `changes` what the other nodes change (one follower). */
  follow(changes: SharedChanges): void
}
