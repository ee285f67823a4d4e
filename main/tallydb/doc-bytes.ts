/** A tally document's bytes: as stored in the journal, as sent in a snapshot reply, and read back. */
import { createHash } from 'node:crypto'
import { free, from, init, loadIncremental, saveSince } from '@automerge/automerge'
import type { DocumentId, Repo } from '@automerge/automerge-repo'
import type { DraftTally } from '../bootstrap/types.ts'
import type { JournalStorageAdapter } from './journal-storage.ts'
import { initialDoc } from './tally-document.ts'
import type { TallyDoc, TallyTerms } from './tally-document.ts'

/** A new tally's document as bytes: every change, uncompressed (deflate costs more than it saves here). */
export function newDocumentBytes(tally: DraftTally, terms: TallyTerms, by: string, at: string): Uint8Array {
  const doc = from(initialDoc(tally, terms, by, at) as unknown as Record<string, unknown>)
  const bytes = saveSince(doc, [])
  // the bytes are all we keep: give the engine's memory back now rather than at the next GC
  free(doc)
  return bytes
}

/** A document's bytes as they are: from the Repo when it holds it, else its chunks in storage. */
export async function snapshotOf(
  repo: Repo,
  storage: JournalStorageAdapter,
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
  storage: JournalStorageAdapter,
  documentId: string,
  bytes: Uint8Array
): Promise<void> {
  const hash = createHash('sha256').update(bytes).digest('hex')
  await storage.save([documentId, 'incremental', hash], bytes)
}

/** True when `doc` is the document of `tally` between its two parties. */
export function isDocOf(doc: TallyDoc | undefined, tally: DraftTally): boolean {
  return (
    doc?.tally?.tallyId === tally.tallyId &&
    doc.tally.initiatorPeerId === tally.initiatorPeerId &&
    doc.tally.respondentPeerId === tally.respondentPeerId
  )
}

/** The document in `bytes` (a snapshot reply or a bootstrap frame), for checking what it is. */
export function docOf(bytes: Uint8Array | undefined): TallyDoc | undefined {
  if (bytes === undefined) return undefined
  try {
    return loadIncremental(init<TallyDoc>(), bytes)
  } catch {
    return undefined
  }
}
