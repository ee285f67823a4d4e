/** The options, views and events of TallyDb. */
import type { Libp2p } from '@libp2p/interface'
import type { DraftTally } from '../bootstrap/types.ts'
import type { StringForm, TallyTerms } from './tally-document.ts'
import type { TallyDocBody } from './doc-view.ts'
import type { TallyDbBackend } from './backend-types.ts'
import type { FirstSeed } from './first-state.ts'

/** Options of TallyDb.open. */
export interface TallyDbInit {
  /** Folder of the database (created, 0700), e.g. DIR/tallydb; unused with a `backend`. */
  dir: string
  /** Documents and index kept elsewhere and shared with other nodes (a cadre's PostgreSQL). Default: `dir`. */
  backend?: TallyDbBackend
  libp2p: Libp2p
  /** Key of the grants (derived from the node secret; never stored here). */
  grantKey: Uint8Array
  /** How often the opener retries documents whose provisioner is not connected. Default 30 000; 0: never. */
  reconnectMs?: number
  /**
   * Warm the document engine in the background at start (once per process), so that a serving node's first
   * hundred tallies do not pay V8's WebAssembly tier-up. Default false: a wallet that opens one document
   * would pay more for the warm-up than for one cold document.
   */
  warmUp?: boolean
  now?: () => number
}

/** A tally's document as the API shows it, with its sync state. */
export interface TallyDocumentView {
  tallyId: string
  documentId: string
  /** True: this node created and serves the document; false: it holds a replica opened with a grant. */
  provisioner: boolean
  counterpartyPeerId: string
  revoked: boolean
  /** A channel to the counterparty carries this document now. */
  connected: boolean
  /** Epoch ms of the last sync message exchanged with the counterparty, null when none this run. */
  lastSyncAt: number | null
  /**
   * The last changes of the counterparty this node refused this run (epoch ms and why); null when none, or
   * once later changes of theirs were taken.
   */
  refused: { at: number; reason: string } | null
  document: TallyDocBody
}

/** Events of TallyDb. */
export interface TallyDbEvents {
  /** A document changed, locally or from the counterparty. */
  change: CustomEvent<{ tallyId: string }>
  /** A document's channel opened or closed. */
  sync: CustomEvent<{ tallyId: string; connected: boolean }>
  /**
   * The counterparty sent changes we refused (tallyId undefined: a document not indexed yet); the channel
   * closed. `retry`: only incomplete, a new channel syncs again.
   */
  refused: CustomEvent<{ tallyId: string | undefined; peer: string; reason: string; retry: boolean }>
}

/** What TallyDb.provision and prepare make a tally's document from. */
export interface ProvisionInput {
  tally: DraftTally
  counterpartyPeerId: string
  /** Where the counterparty said it listens (its cadre): sync() dials it there. */
  counterpartyAddrs?: string[]
  terms?: TallyTerms
  /** How its strings are written: what the counterparty reads (stringFormFor its bootstrap version). */
  stringForm?: StringForm
  signal?: AbortSignal
}

/** A provisioned document: the grant that opens it for the counterparty, its id and its first state's seed. */
export interface ProvisionedDocument {
  grant: string
  documentId: string
  /** What its first state is made from (firstStateBytes makes the bytes; seedText the 1.3.0 frame's seed). */
  first: FirstSeed
}
