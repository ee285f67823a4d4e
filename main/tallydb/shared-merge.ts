/**
 * Another node of a shared backend stored a chunk of a document this node may hold open: merge it into the
 * open handle, so the handle's readers (the console) and its channel (the counterparty) see the change.
 * A document this node has not loaded needs nothing: it is read from the shared storage when loaded.
 */
import { loadIncremental } from '@automerge/automerge'
import type { DocHandle, DocumentId, Repo } from '@automerge/automerge-repo'
import type { StorageKey } from '@automerge/automerge-repo/slim'
import type { SharedChanges, TallyStorage } from './backend-types.ts'

/** Longest a note waits for a handle that is loading while it arrived (a guard against hangs). */
const LOADING_WAIT_MS = 10_000

/** Merge the chunk `key` of `documentId` (its bytes `data`, or read from `storage`) into the open handle. */
export async function mergeStoredChunk(
  repo: Repo,
  storage: TallyStorage,
  documentId: string,
  key: StorageKey,
  data: Uint8Array | undefined
): Promise<void> {
  const handle = repo.handles[documentId as DocumentId]
  if (handle === undefined) return
  // it may have read the storage just before this chunk was written: merge once it is loaded
  if (handle.inState(['loading']))
    await handle.whenReady(['ready', 'unavailable', 'deleted', 'unloaded'], {
      signal: AbortSignal.timeout(LOADING_WAIT_MS)
    })
  if (!handle.isReady()) return
  // compacted away meanwhile (another node saved a snapshot): the document's chunks hold the change
  const bytes = data ?? (await storage.load(key)) ?? (await documentBytes(storage, documentId))
  // Automerge ignores changes it has: a chunk this node wrote itself, or merged already, changes nothing
  if (bytes !== undefined) merge(handle, bytes)
}

/** Merge every stored chunk of each document this node holds open (notes may have been missed). */
export async function mergeAllStored(repo: Repo, storage: TallyStorage): Promise<void> {
  for (const [documentId, handle] of Object.entries(repo.handles)) {
    if (!handle.isReady()) continue
    const bytes = await documentBytes(storage, documentId)
    if (bytes !== undefined) merge(handle, bytes)
  }
}

function merge(handle: DocHandle<unknown>, bytes: Uint8Array): void {
  handle.update((doc) => {
    try {
      return loadIncremental(doc, bytes)
    } catch {
      // not Automerge chunks (a damaged row): the handle keeps what it has
      return doc
    }
  })
}

async function documentBytes(storage: TallyStorage, documentId: string): Promise<Uint8Array | undefined> {
  const chunks = (await storage.loadRange([documentId])).filter(
    (c) => c.data !== undefined && (c.key[1] === 'snapshot' || c.key[1] === 'incremental')
  )
  return chunks.length === 0 ? undefined : Buffer.concat(chunks.map((c) => c.data as Uint8Array))
}

/** What a node does when another node of its shared backend changes a document or an entry. */
export function sharedChangesFor(
  repo: Repo,
  storage: TallyStorage,
  adapter: { forget(documentId: DocumentId): void },
  closed: () => boolean
): SharedChanges {
  return {
    chunk: (documentId, key, data) => {
      if (!closed()) void mergeStoredChunk(repo, storage, documentId, key, data).catch(() => {})
    },
    entry: (entry) => {
      // revoked on another node: no channel of this node carries the document any more
      if (entry.revoked === true) adapter.forget(entry.documentId as DocumentId)
    },
    resumed: () => {
      if (!closed()) void mergeAllStored(repo, storage).catch(() => {})
    }
  }
}
