/** The shared tally documents (issue I) as the console API serves them: opened, watched, read, negotiated. */
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import type { ConsoleEvent } from '../views/console-views.ts'
import { ApiError } from './api-error.ts'
import {
  ForeignDocumentError,
  ProposalError,
  RefusedChangeError,
  TallyDb,
  UnknownTallyDocumentError
} from '../tallydb/index.ts'
import type { TallyDbBackend, TallyDocumentView, TallyTerms, TermsProposal } from '../tallydb/index.ts'

/** Longest an API call waits to reach a tally's counterparty before answering from the local replica. */
const TALLY_SYNC_WAIT_MS = 3000

/** The tally database's refusals as API errors. */
function tallyDbError(err: unknown): never {
  if (err instanceof UnknownTallyDocumentError)
    throw new ApiError('not-found', 404, 'no shared document for this tally on this node', { cause: err })
  if (err instanceof ProposalError) throw new ApiError('bad-input', 400, err.message, { cause: err })
  // what the counterparty handed over is not a document this node can use: its words say why
  if (err instanceof RefusedChangeError || err instanceof ForeignDocumentError)
    throw new ApiError('refused-document', 409, err.message, { cause: err })
  throw err
}

/** Open the tally database of the node's data folder (or of the cadre's `backend`), served over `node`. */
export async function openTallyDocuments(
  dataDir: string,
  node: Libp2p,
  grantKey: Buffer,
  backend?: TallyDbBackend
): Promise<TallyDb> {
  return TallyDb.open({
    dir: join(dataDir, 'tallydb'),
    ...(backend === undefined ? {} : { backend }),
    libp2p: node,
    grantKey,
    // a long-running node: its first customers should not pay the document engine's warm-up
    warmUp: true
  })
}

/** Tell the console when a tally's document changes or its channel to the counterparty opens or closes. */
export function watchTallyDocuments(
  tallyDb: TallyDb,
  listen: <T>(target: EventTarget, type: string, handler: (detail: T) => void) => void,
  push: (event: ConsoleEvent) => void
): void {
  listen(tallyDb, 'change', (detail: { tallyId: string }) =>
    push({ kind: 'tally-document', tallyId: detail.tallyId })
  )
  listen(tallyDb, 'sync', (detail: { tallyId: string; connected: boolean }) =>
    push({ kind: 'tally-document', tallyId: detail.tallyId, connected: detail.connected })
  )
  // the counterparty's changes were refused: the tally page reads the document again and says so
  listen(tallyDb, 'refused', (detail: { tallyId: string | undefined }) => {
    if (detail.tallyId !== undefined) push({ kind: 'tally-document', tallyId: detail.tallyId })
  })
}

/** A tally's shared document, fresh from the counterparty when it answers in time. */
export async function readTallyDocument(db: TallyDb, tallyId: string): Promise<TallyDocumentView> {
  // reach the counterparty first when we can, briefly, so the view is as fresh as it gets
  await db.sync(tallyId, { signal: AbortSignal.timeout(TALLY_SYNC_WAIT_MS) }).catch(() => false)
  const view = await db.read(tallyId).catch(tallyDbError)
  if (view === undefined)
    throw new ApiError('not-found', 404, 'no shared document for this tally on this node')
  return view
}

/** Propose new terms on a tally, then offer them to the counterparty without waiting. */
export async function proposeTallyTerms(
  db: TallyDb,
  tallyId: string,
  terms: TallyTerms
): Promise<TermsProposal> {
  const proposal = await db.propose(tallyId, terms).catch(tallyDbError)
  void db.sync(tallyId, { signal: AbortSignal.timeout(TALLY_SYNC_WAIT_MS) }).catch(() => false)
  return proposal
}

/** Accept the counterparty's proposal (fetched first when it is reachable). */
export async function acceptTallyProposal(
  db: TallyDb,
  tallyId: string,
  proposalId: string
): Promise<TermsProposal> {
  // the counterparty's newest proposals first, when it is reachable
  await db.sync(tallyId, { signal: AbortSignal.timeout(TALLY_SYNC_WAIT_MS) }).catch(() => false)
  const accepted = await db.accept(tallyId, proposalId).catch(tallyDbError)
  return accepted
}

/** Withdraw our own open proposal or decline the counterparty's (its newest state fetched first). */
export async function closeTallyProposal(
  db: TallyDb,
  tallyId: string,
  proposalId: string,
  how: 'withdrawn' | 'declined'
): Promise<TermsProposal> {
  await db.sync(tallyId, { signal: AbortSignal.timeout(TALLY_SYNC_WAIT_MS) }).catch(() => false)
  return db.closeProposal(tallyId, proposalId, how).catch(tallyDbError)
}
