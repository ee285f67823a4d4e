/**
 * The console's view types: what the service, the store, the shells (IPC, HTTP, CLI) and the renderer
 * exchange. Kept below main/store and main/service so that no lower layer reaches up into preload/ for
 * them; preload/contract.ts builds the API contract on them and re-exports them for the shells.
 */
import type {
  Direction,
  IdentityBundle,
  PartyRole,
  ReasonCode,
  SessionEvent,
  SessionState
} from '../bootstrap/types.ts'
import type { TallyDocumentView } from '../tallydb/tally-db.ts'
import type { NegotiationEntry, TallyTerms, TermsProposal } from '../tallydb/tally-document.ts'
import type { TallyDocBody } from '../tallydb/doc-view.ts'
import type { Actor } from './console-queries.ts'

export type { NegotiationEntry, TallyDocBody, TallyDocumentView, TallyTerms, TermsProposal }

export type { Direction, IdentityBundle, PartyRole, ReasonCode, SessionEvent, SessionState }

/** How many times a token can be used. */
export type TokenUses = number | 'unlimited'
/** `auto`: identity checked by fields only; `operator`: a person approves each session. */
export type ApprovalPolicy = 'auto' | 'operator'
/** Derived status of a token. */
export type TokenStatus = 'active' | 'expired' | 'revoked' | 'used-up'
/**
 * Status of a tally on this node. `pending`: this node (the dialer) committed to the tally but never
 * heard the other party's verdict (a crash or a cut connection); it asks that party until it answers.
 */
export type TallyStatus = 'draft' | 'pending' | 'confirmed' | 'abandoned'
/** An operator's decision on a waiting session. */
export type Decision = 'approve' | 'reject'

/** How a wait for the operator ended: a decision, nobody deciding in time, or the customer leaving first. */
export type ApprovalEnd = Decision | 'timeout' | 'left'

/** Input of createToken. */
export interface CreateTokenInput {
  role: PartyRole
  label?: string
  /** Default 1. */
  uses?: TokenUses
  /** Lifetime in ms from now; omitted = never expires. */
  expiresInMs?: number
  /** Identity fields the dialer must present, e.g. ['email','name']. */
  identityRequirements?: string[]
  /** Default 'auto'. */
  approval?: ApprovalPolicy
  /** How long a session waits for the operator (policy 'operator'). Default 120 000. */
  approvalTimeoutMs?: number
  /** Additive: standing terms every tally bootstrapped from this token starts with (issue I). */
  terms?: TallyTerms
  /**
   * Additive. `per-customer`: a customer display — a single-use token whose successor (same settings,
   * same `displayId`) the node mints by itself once a customer's tally is open; `getDisplay` follows it.
   */
  mode?: TokenMode
}

/** Additive: `single` (default) is one token; `per-customer` mints a fresh single-use token per customer. */
export type TokenMode = 'single' | 'per-customer'

/** A token as listed (never the secret). */
export interface TokenView {
  tokenId: string
  label: string
  role: PartyRole
  uses: TokenUses
  used: number
  /** Epoch ms, or null = never. */
  expiresAt: number | null
  revoked: boolean
  status: TokenStatus
  identityRequirements: string[]
  approval: ApprovalPolicy
  approvalTimeoutMs: number
  createdAt: number
  /** Additive: the token's standing terms, when it has any. */
  terms?: TallyTerms
  /** Additive: hidden from listTokens unless asked for (only revoked, used-up or expired tokens). */
  archived?: boolean
  /** Additive: `per-customer` tokens only. */
  mode?: TokenMode
  /** Additive: the customer display this token belongs to (`per-customer` only). */
  displayId?: string
}

/** A freshly created token with its link (the link text is the bearer secret: show it, never log it). */
export interface CreatedToken extends TokenView {
  link: string
}

/** One row of the live sessions table. */
export interface SessionView {
  sessionId: string
  direction: Direction
  state: SessionState
  /** True once in a terminal state. */
  done: boolean
  startedAt: number
  updatedAt: number
  peerId: string
  role?: PartyRole
  tokenId?: string
  tokenLabel?: string
  tallyId?: string
  reason?: ReasonCode
  /** Additive: it ended because the other party left (closed or reset the stream) before the end. */
  peerLeft?: true
  /** Additive: the cadre node serving the session (PostgreSQL store only). */
  node?: string
}

/** A session waiting for an operator's identity decision. */
export interface ApprovalView {
  sessionId: string
  tokenId: string
  tokenLabel: string
  peerId: string
  bundle: IdentityBundle
  requestedAt: number
  /** Epoch ms when the session gives up waiting. */
  deadline: number
  /** Additive: the cadre node whose session waits (PostgreSQL store only). */
  node?: string
}

/** Outcome of decide(): `applied` false when another decision (or the timeout) came first. */
export interface DecisionResult {
  sessionId: string
  decision: Decision
  applied: boolean
}

/** A tally as listed (never the credentials). */
export interface TallyView {
  tallyId: string
  role: PartyRole
  direction: Direction
  status: TallyStatus
  counterpartyPeerId: string
  localPeerId: string
  sessionId: string
  tokenId?: string
  tokenLabel?: string
  createdAt: number
  updatedAt: number
  /** Additive: the counterparty's identity `name`, else its `email`; absent when it gave neither. */
  counterpartyName?: string
  /** Additive: the identity bundle the counterparty presented (listener side only). */
  counterpartyIdentity?: IdentityBundle
  /** Additive: the counterparty's cadre addresses (both sides; absent on tallies recorded before). */
  counterpartyCadre?: string[]
  /** Additive: the cadre node that served the tally's session (PostgreSQL store only). */
  node?: string
  /** Additive, `pending` tallies only: epoch ms of the next verdict query to the counterparty (absent: none planned). */
  nextCheckAt?: number
}

/** Where a node keeps its data (issue J): its own folder (lowdb, the default) or a PostgreSQL server. */
export type StoreKind = 'lowdb' | 'postgres'

/** A store choice as the console sees it: the URL never holds the password. */
export interface StoreChoice {
  kind: StoreKind
  /** postgres://user@host:port/database?schema=…, without the password. */
  url?: string
  /** A password is saved for this URL (it is never sent back). */
  passwordSaved?: boolean
}

/** The store setting: what runs now, what the next start uses, and whether a restart is needed. */
export interface StoreSettingView {
  /** The store of the running node and what chose it: `--store`, TALEUS_STORE, the setting, or the default. */
  running: StoreChoice & { source: 'flag' | 'env' | 'setting' | 'default' }
  /** The saved setting (DATADIR/store.json), applied at the next start. */
  saved: StoreChoice
  /** The saved setting is not what runs: it applies once the node restarts. */
  restartNeeded: boolean
  /** A `--store` flag or TALEUS_STORE decides instead of the saved setting, also at the next start. */
  overriddenBy?: 'flag' | 'env'
}

/** Input of setStoreSetting: the folder, or a PostgreSQL URL (the password apart; kept when omitted). */
export type StoreSettingInput = { kind: 'lowdb' } | { kind: 'postgres'; url: string; password?: string }

/** This node. */
export interface NodeInfo {
  peerId: string
  multiaddrs: string[]
  dataDir: string
  startedAt: number
  mdns: boolean
  activeListeners: number
  activeDialers: number
  connections: number
}

/** A peer seen by mDNS or connected. */
export interface PeerView {
  peerId: string
  multiaddrs: string[]
  source: 'mdns' | 'connection'
  connected: boolean
  lastSeen: number
}

/** Input of dial(). */
export interface DialInput {
  /** The link text (taleus: URI). */
  link: string
  identity?: IdentityBundle
}

/** Final result of a dial, delivered as a ConsoleEvent and by waitDial. */
export type DialOutcome =
  | { sessionId: string; ok: true; tallyId: string; role: PartyRole; remotePeerId: string }
  | { sessionId: string; ok: false; reason: ReasonCode; message: string }

/** Everything the console streams, batched. */
export type ConsoleEvent =
  | { kind: 'session'; session: SessionView; event: SessionEvent }
  | { kind: 'approval'; approval: ApprovalView }
  | { kind: 'approval-resolved'; sessionId: string; decision: ApprovalEnd }
  | { kind: 'token'; token: TokenView }
  | { kind: 'tally'; tally: TallyView }
  | { kind: 'peer'; peer: PeerView }
  | { kind: 'dial-result'; outcome: DialOutcome }
  /** Additive: a tally's shared document changed or its channel to the counterparty opened/closed. */
  | { kind: 'tally-document'; tallyId: string; connected?: boolean }
  | { kind: 'display'; display: DisplayView }

/** One entry of a tally's timeline, oldest first. */
export interface TimelineEntry {
  at: number
  /** `session`: a protocol step; `operator`: someone's action; `status`: the tally's status changed. */
  kind: 'session' | 'operator' | 'status'
  /** A sentence in plain words. */
  text: string
  state?: SessionState
  reason?: ReasonCode
  op?: string
  actor?: Actor
  status?: TallyStatus
}

/** What getTally returns: a tally's page. */
export interface TallyDetail {
  tally: TallyView
  /** The token it came from (listener side), if still known. */
  token?: TokenView
  /** The counterparty's identity as presented (listener side), when kept. */
  counterpartyIdentity?: IdentityBundle
  timeline: TimelineEntry[]
  statusHistory: Array<{ status: TallyStatus; at: number }>
  /** What the other side was told: the reasons sent (or received) and the operator's decision. */
  told: Array<{ at: number; text: string; reason?: ReasonCode; decision?: Decision }>
  /** Our own role in plain words (see roleSentence). */
  roleText: string
}

/** Where the customer at a display is. */
export type DisplayPhase = 'ready' | 'connecting' | 'waiting-approval' | 'open' | 'failed'

/** A customer display (`per-customer` token): the QR to show now and how the last customer is doing. */
export interface DisplayView {
  displayId: string
  label: string
  role: PartyRole
  /** The token whose QR to show now, and its link (bearer secret: show it, never log it). */
  tokenId: string
  link: string
  /** Customers whose tally opened through this display. */
  served: number
  /** The newest customer's session, if any (`ready`: none since the current QR). */
  phase: DisplayPhase
  customer?: {
    sessionId: string
    /** Identity `name`, else `email`, when the customer gave one. */
    name?: string
    tallyId?: string
    reason?: ReasonCode
    /** A sentence for the screen, e.g. "Welcome, Ann — your tally is open". */
    text: string
  }
  updatedAt: number
  /** True once closed (the current token revoked). */
  closed: boolean
}
