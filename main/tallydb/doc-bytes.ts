/** A tally document's bytes: as stored in the journal, as sent in a snapshot reply, and read back. */
import { createHash } from 'node:crypto'
import { init, loadIncremental, saveSince } from '@automerge/automerge'
import type { DocumentId, Repo } from '@automerge/automerge-repo'
import type { TallyStorage } from './backend-types.ts'
import type { TallyDoc } from './tally-document.ts'

/** A document's bytes as they are: from the Repo when it holds it, else its chunks in storage. */
export async function snapshotOf(
  repo: Repo,
  storage: TallyStorage,
  documentId: DocumentId
): Promise<Uint8Array | undefined> {
  const loaded = repo.handles[documentId]
  // every change, uncompressed: for a document of a few KB, deflate (save()) costs more than it saves
  if (loaded?.isReady() === true) return saveSince(loaded.doc(), [])
  const chunks = (await storage.loadRange([documentId])).filter(
    (c) => c.data !== undefined && (c.key[1] === 'snapshot' || c.key[1] === 'incremental')
  )
  if (chunks.length === 0) return undefined
  return Buffer.concat(chunks.map((c) => c.data as Uint8Array))
}

/** Store a document's bytes as one chunk, the way automerge-repo keys its incremental saves. */
export async function storeChunk(
  storage: TallyStorage,
  documentId: string,
  bytes: Uint8Array
): Promise<void> {
  const hash = createHash('sha256').update(bytes).digest('hex')
  await storage.save([documentId, 'incremental', hash], bytes)
}

/** The document in `bytes` (a snapshot reply), for checking what it is. */
export function docOf(bytes: Uint8Array | undefined): TallyDoc | undefined {
  if (bytes === undefined) return undefined
  try {
    return loadIncremental(init<TallyDoc>(), bytes)
  } catch {
    return undefined
  }
}
