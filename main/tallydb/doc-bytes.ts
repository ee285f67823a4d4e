/** A tally document's bytes: as made, as checked when handed over, as sent in a snapshot reply, and read back. */
import { createHash } from 'node:crypto'
import { init, loadIncremental, saveSince } from '@automerge/automerge'
import type { DocumentId, Repo } from '@automerge/automerge-repo'
import type { DraftTally } from '../bootstrap/types.ts'
import type { TallyStorage } from './backend-types.ts'
import { str } from './tally-document.ts'
import type { StoredTallyDoc } from './tally-document.ts'

/** Automerge's chunk header: magic bytes, then a 4-byte checksum, a type byte and a LEB128 length. */
const CHUNK_MAGIC = [0x85, 0x6f, 0x4a, 0x83]
/** Chunk types a handed-over document may hold: a whole document (save) or changes (saveSince). */
const DOCUMENT_CHUNK = 0
const CHANGE_CHUNK = 1

/**
 * True when `bytes` are whole Automerge chunks (documents or changes), each with its checksum right (the
 * first 4 bytes of SHA-256 over type, length and contents). Cheap, in JavaScript: the opener checks a
 * handed-over document's integrity without starting the document engine.
 */
export function isAutomergeChunks(bytes: Uint8Array): boolean {
  let at = 0
  while (at < bytes.length) {
    if (bytes.length - at < 10 || CHUNK_MAGIC.some((b, i) => bytes[at + i] !== b)) return false
    const type = bytes[at + 8]
    if (type !== DOCUMENT_CHUNK && type !== CHANGE_CHUNK) return false
    let length = 0
    let p = at + 9
    for (let shift = 0; ; shift += 7) {
      if (p >= bytes.length || shift > 28) return false
      const b = bytes[p++]!
      length += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) break
    }
    const end = p + length
    if (end > bytes.length) return false
    const hash = createHash('sha256')
      .update(bytes.subarray(at + 8, end))
      .digest()
    if (!hash.subarray(0, 4).equals(bytes.subarray(at + 4, at + 8))) return false
    at = end
  }
  return at > 0
}

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

/** Store a document's bytes as one chunk, the way automerge-repo keys its incremental saves (shared storage). */
export async function storeChunk(
  storage: TallyStorage,
  documentId: string,
  bytes: Uint8Array
): Promise<void> {
  const hash = createHash('sha256').update(bytes).digest('hex')
  await storage.save([documentId, 'incremental', hash], bytes)
}

/** True when `doc` is the document of `tally` between its two parties. */
export function isDocOf(doc: StoredTallyDoc | undefined, tally: DraftTally): boolean {
  const t = doc?.tally
  return (
    str(t?.tallyId) === tally.tallyId &&
    str(t?.initiatorPeerId) === tally.initiatorPeerId &&
    str(t?.respondentPeerId) === tally.respondentPeerId
  )
}

/** True when `doc` is the document of `tallyId` between `a` and `b` (in either role). */
export function isDocBetween(
  doc: StoredTallyDoc | undefined,
  tallyId: string,
  a: string,
  b: string
): boolean {
  const t = doc?.tally
  const [from, to] = [str(t?.initiatorPeerId), str(t?.respondentPeerId)]
  return str(t?.tallyId) === tallyId && ((from === a && to === b) || (from === b && to === a))
}

/**
 * Why a document that is not between this node and `counterparty` fails (ForeignDocumentError's message):
 * this tally with the counterparty but another peer id of ours is a node that lost its key, not a mix-up.
 */
export function foreignReason(
  doc: StoredTallyDoc,
  tallyId: string,
  counterparty: string
): string | undefined {
  const t = doc.tally
  const parties = [str(t?.initiatorPeerId), str(t?.respondentPeerId)]
  return str(t?.tallyId) === tallyId && parties.includes(counterparty)
    ? "this node is not a party of this tally: it runs with another peer id than the one that made it (keep the node's private key)"
    : undefined
}

/** The document in `bytes` (a snapshot reply or a bootstrap frame), for checking what it is. */
export function docOf(bytes: Uint8Array | undefined): StoredTallyDoc | undefined {
  if (bytes === undefined) return undefined
  try {
    return loadIncremental(init<StoredTallyDoc>(), bytes)
  } catch {
    return undefined
  }
}
