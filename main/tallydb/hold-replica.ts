/** The opener's side of a tally's document: the replica taken from the frame or opened with the grant. */
import { isValidDocumentId } from '@automerge/automerge-repo'
import type { DocHandle, DocumentId } from '@automerge/automerge-repo'
import type { DraftTally } from '../bootstrap/types.ts'
import { ForeignDocumentError, GrantRefusedError, ProposalError, RefusedChangeError } from './errors.ts'
import { documentTooLarge, vetDocument } from './change-vetting.ts'
import type { Vetted } from './change-vetting.ts'
import { derivedRefusal, handedRefusal } from './handed-document.ts'
import { firstCommitTime, firstStateBytes, seedTerms } from './first-state.ts'
import type { FirstSeed } from './first-state.ts'
import { sealGrant } from './grant.ts'
import { foreignReason, isAutomergeChunks, isDocBetween, storeChunk } from './doc-bytes.ts'
import { findRemote, openAt } from './counterparty-reach.ts'
import { applyStandingTerms, checkTerms } from './tally-document.ts'
import type { StoredTallyDoc, TallyTerms } from './tally-document.ts'
import type { DocumentParts } from './document-parts.ts'
import type { IndexEntry } from './tally-index.ts'

/** What TallyDb.join opens a replica from. */
export interface JoinInput {
  tally: DraftTally
  provisionerPeerId: string
  nodes: string[]
  grant: string
  /**
   * The document as the provisioner handed it over in the bootstrap: its id and its bytes, or (1.3.0) the
   * seed its first state is derived from.
   */
  document?: { id: string; bytes: Uint8Array } | { id: string; seed: string }
  terms?: TallyTerms
  signal?: AbortSignal
}

/** A replica on disk: its handle when the Repo holds it, `offer` when our terms must reach the provisioner. */
export interface HeldReplica {
  documentId: string
  handle: DocHandle<StoredTallyDoc> | undefined
  offer: boolean
}

/** Hold a replica of the tally's document (on disk on return); TallyDb.join says what is checked when. */
export async function holdReplica(parts: DocumentParts, input: JoinInput): Promise<HeldReplica> {
  const { init, index, storage, adapter, repo, now } = parts
  const { tally, provisionerPeerId, grant, signal } = input
  if (index.get(tally.tallyId) !== undefined) throw new ProposalError('tally already has a document')
  // handed over in the frame: no channel, no round trip; libp2p carries only the changes after it
  const handed = input.document
  if (handed !== undefined && !isValidDocumentId(handed.id)) throw new GrantRefusedError('not a document')
  if (handed !== undefined && 'bytes' in handed && !isAutomergeChunks(handed.bytes))
    throw new GrantRefusedError('not a document')
  // 1.3.0: made here from the seed and the tally, the same as the provisioner made it; nothing to judge
  const derived =
    handed !== undefined && 'seed' in handed ? seedOf(tally, handed.seed, provisionerPeerId) : undefined
  const opened =
    handed === undefined
      ? await openAt(adapter, tally.tallyId, provisionerPeerId, input.nodes, grant, signal)
      : undefined
  const documentId = handed?.id ?? opened!.documentId
  const snapshot = handed === undefined ? opened!.snapshot : 'bytes' in handed ? handed.bytes : undefined
  if (index.tallyOf(documentId) !== undefined) throw new GrantRefusedError('document already in use')
  // before the engine sees it: its columns may claim millions of operations in a few bytes
  const tooLarge = snapshot === undefined ? undefined : documentTooLarge(snapshot)
  if (tooLarge !== undefined) {
    adapter.forget(documentId as DocumentId)
    throw new RefusedChangeError(tooLarge)
  }
  const terms = checkTerms(input.terms ?? {})
  const withTerms = Object.keys(terms).length > 0
  // the snapshot in the reply is the replica; sync messages on the channel carry every change after it.
  // Kept as bytes unless we change it now (foil terms): then the Repo takes it and syncs our change back
  // a derived first state is made only where it is used now (our terms, a shared storage): else at first load
  const whole = (): Uint8Array =>
    derived === undefined ? (snapshot as Uint8Array) : firstStateBytes(derived)
  const handle =
    derived === undefined && snapshot === undefined
      ? await findRemote(repo, adapter, documentId, provisionerPeerId, signal)
      : withTerms
        ? repo.import<StoredTallyDoc>(whole(), { docId: documentId as DocumentId })
        : undefined
  // as bytes or seed: in the index entry, one durable write (as the provisioner keeps it); changed: the Repo's
  const keepBytes = handle === undefined && init.backend === undefined
  const refusal =
    derived !== undefined
      ? derivedRefusal(derived, input.terms !== undefined)
      : handedRefusal({
          tally,
          provisionerPeerId,
          snapshot,
          loaded: handle?.doc(),
          inFrame: handed !== undefined,
          // judged now where it is loaded or goes to shared storage, else at its first load (TallyDb's
          // handle): the bootstrap does not pay for it
          judgeNow: !keepBytes,
          standingTerms: input.terms !== undefined
        })
  if (refusal !== undefined) {
    adapter.forget(documentId as DocumentId)
    throw refusal
  }
  let release: (() => void) | undefined
  if (handle !== undefined && withTerms) {
    const at = new Date(now()).toISOString()
    release = adapter.hold(documentId as DocumentId)
    handle.change((d) => applyStandingTerms(d, terms, parts.localPeerId, at))
  }
  await Promise.all([
    handle !== undefined ? repo.flush([documentId as DocumentId]) : undefined,
    // a shared backend keeps the bytes as a chunk of its storage (every node of it reads them there)
    handle === undefined && !keepBytes ? storeChunk(storage, documentId, whole()) : undefined,
    index.put({
      tallyId: tally.tallyId,
      documentId,
      counterpartyPeerId: provisionerPeerId,
      provisioner: false,
      nodes: input.nodes.slice(0, 16),
      sealedGrant: sealGrant(init.grantKey, tally.tallyId, grant),
      ...(!keepBytes
        ? {}
        : derived !== undefined
          ? { first: derived }
          : { doc: Buffer.from(snapshot as Uint8Array).toString('base64') }),
      createdAt: now()
    })
  ]).finally(release)
  // our terms reach the provisioner once a channel carries the document (over the frame, none does yet)
  return { documentId, handle, offer: handed !== undefined && withTerms }
}

/** The first state the frame's `seed` describes for `tally`, provisioned by `by`; GrantRefusedError when it is none. */
function seedOf(tally: DraftTally, seed: string, by: string): FirstSeed {
  try {
    const first: FirstSeed = { tally, terms: seedTerms(seed), by, form: 'scalar' }
    firstCommitTime(tally)
    return first
  } catch (err) {
    throw new GrantRefusedError(`not a document seed: ${(err as Error).message}`)
  }
}

/**
 * The check of a document when this process first loads it: ForeignDocumentError when it is not this
 * tally between us and the counterparty; the refusal when the opener's handed-over first state (kept
 * unread since join) does not pass; undefined when it may be used.
 */
export function firstLoadRefusal(
  doc: StoredTallyDoc,
  entry: IndexEntry,
  localPeerId: string,
  firstState: Uint8Array | undefined
): Extract<Vetted, { ok: false }> | undefined {
  if (!isDocBetween(doc, entry.tallyId, localPeerId, entry.counterpartyPeerId))
    throw new ForeignDocumentError(foreignReason(doc, entry.tallyId, entry.counterpartyPeerId))
  const vetted =
    entry.provisioner || firstState === undefined
      ? undefined
      : vetDocument(firstState, entry.counterpartyPeerId)
  return vetted?.ok === false ? vetted : undefined
}
