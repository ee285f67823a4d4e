/** The provisioner's side of a tally's document: made, indexed and its grant derived (TallyDb.prepare). */
import { generateAutomergeUrl } from '@automerge/automerge-repo'
import { ProposalError } from './errors.ts'
import { deriveGrant } from './grant.ts'
import { storeChunk } from './doc-bytes.ts'
import { firstCommitTime, firstStateBytes } from './first-state.ts'
import type { FirstSeed } from './first-state.ts'
import { checkTerms } from './tally-document.ts'
import type { DocumentParts } from './document-parts.ts'
import type { ProvisionInput, ProvisionedDocument } from './tally-db-types.ts'

/**
 * Make the tally's document for `input.counterpartyPeerId`; `stored` settles once it is on disk (until
 * then it is served to nobody). Its first state is derived (first-state.ts): the index entry keeps what it
 * is made from, and the bytes are made when someone first reads or syncs it, not while a customer waits.
 */
export function createDocument(
  parts: DocumentParts,
  input: ProvisionInput
): ProvisionedDocument & { stored: Promise<void> } {
  const { init, index, storage, now } = parts
  const { tally, counterpartyPeerId } = input
  if (index.get(tally.tallyId) !== undefined) throw new ProposalError('tally already has a document')
  const first: FirstSeed = {
    tally: { ...tally },
    terms: checkTerms(input.terms ?? {}),
    by: parts.localPeerId,
    form: input.stringForm ?? 'scalar'
  }
  // a tally without a valid creation time has no first state: refused before anything is written
  firstCommitTime(tally)
  // the URL's tail is the id: decoding it again (bs58check) would cost as much as making it
  const documentId = generateAutomergeUrl().slice('automerge:'.length)
  // its seed into its index entry, which the storage shows automerge-repo as the document's first chunk: one
  // durable write, and the Repo takes the document up only when someone reads it or the opener syncs (a
  // rush of bootstraps costs no document engine, DocHandle, synchronizer or snapshot)
  // (a shared backend: the bytes as a chunk of its storage beside the entry, which every node of it reads)
  const shared = init.backend !== undefined
  const stored = Promise.all([
    index.put({
      tallyId: tally.tallyId,
      documentId,
      counterpartyPeerId,
      provisioner: true,
      ...(input.counterpartyAddrs === undefined ? {} : { nodes: input.counterpartyAddrs.slice(0, 16) }),
      ...(shared ? {} : { first }),
      createdAt: now()
    }),
    shared ? storeChunk(storage, documentId, firstStateBytes(first)) : undefined
  ]).then(() => {})
  return {
    grant: deriveGrant(init.grantKey, tally.tallyId, counterpartyPeerId),
    documentId,
    first,
    stored
  }
}
