/** The provisioner's side of a tally's document: made, indexed and its grant derived (TallyDb.prepare). */
import { generateAutomergeUrl } from '@automerge/automerge-repo'
import { ProposalError } from './errors.ts'
import { deriveGrant } from './grant.ts'
import { newDocumentBytes, storeChunk } from './doc-bytes.ts'
import { checkTerms } from './tally-document.ts'
import type { DocumentParts } from './document-parts.ts'
import type { ProvisionInput, ProvisionedDocument } from './tally-db-types.ts'

/**
 * Make the tally's document for `input.counterpartyPeerId`; `stored` settles once it is on disk (until
 * then it is served to nobody).
 */
export function createDocument(
  parts: DocumentParts,
  input: ProvisionInput
): ProvisionedDocument & { stored: Promise<void> } {
  const { init, index, storage, now } = parts
  const { tally, counterpartyPeerId } = input
  if (index.get(tally.tallyId) !== undefined) throw new ProposalError('tally already has a document')
  const at = new Date(now()).toISOString()
  const document = newDocumentBytes(
    tally,
    checkTerms(input.terms ?? {}),
    parts.localPeerId,
    at,
    input.stringForm ?? 'scalar'
  )
  // the URL's tail is the id: decoding it again (bs58check) would cost as much as making it
  const documentId = generateAutomergeUrl().slice('automerge:'.length)
  // into its index entry, which the storage shows automerge-repo as the document's first chunk: one
  // durable write, and the Repo takes the document up only when someone reads it or the opener syncs (a
  // rush of bootstraps costs no DocHandle, synchronizer or snapshot)
  // (a shared backend: as a chunk of its storage beside the entry, which every node of it reads)
  const shared = init.backend !== undefined
  const stored = Promise.all([
    index.put({
      tallyId: tally.tallyId,
      documentId,
      counterpartyPeerId,
      provisioner: true,
      ...(input.counterpartyAddrs === undefined ? {} : { nodes: input.counterpartyAddrs.slice(0, 16) }),
      ...(shared ? {} : { doc: Buffer.from(document).toString('base64') }),
      createdAt: now()
    }),
    shared ? storeChunk(storage, documentId, document) : undefined
  ]).then(() => {})
  return {
    grant: deriveGrant(init.grantKey, tally.tallyId, counterpartyPeerId),
    documentId,
    document,
    stored
  }
}
