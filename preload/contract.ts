/**
 * The one API contract of the Taleus console. The Electron preload exposes an object that
 * `satisfies TaleusApi`; the browser bridge (renderer/src/lib/web-bridge.ts) implements it over HTTP;
 * main/api serves both (IPC handlers and HTTP routes) from ROUTES below. Types only, plus the route table.
 */
import type {
  Direction,
  IdentityBundle,
  PartyRole,
  ReasonCode,
  SessionEvent,
  SessionState
} from '../main/bootstrap/types.ts'
import type { TallyDocumentView } from '../main/tallydb/tally-db.ts'
import type {
  NegotiationEntry,
  TallyDocBody,
  TallyTerms,
  TermsProposal
} from '../main/tallydb/tally-document.ts'

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
}

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
  | { kind: 'approval-resolved'; sessionId: string; decision: Decision | 'timeout' }
  | { kind: 'token'; token: TokenView }
  | { kind: 'tally'; tally: TallyView }
  | { kind: 'peer'; peer: PeerView }
  | { kind: 'dial-result'; outcome: DialOutcome }
  /** Additive: a tally's shared document changed or its channel to the counterparty opened/closed. */
  | { kind: 'tally-document'; tallyId: string; connected?: boolean }

/** Query of the audit trail, newest first. */
/** Default and largest page of listTallies / listSessions. */
export const LIST_DEFAULT_LIMIT = 500
export const LIST_MAX_LIMIT = 5000

/**
 * A page of a list, newest first. To get the next page, pass the last item's time (tally `createdAt`,
 * session `startedAt`) as `before` and its id (`tallyId`, `sessionId`) as `beforeId`.
 */
export interface PageQuery {
  /** Items at most (default 500, at most 5000). */
  limit?: number
  /** Only items strictly older than this epoch ms (or as old, with an id below `beforeId`). */
  before?: number
  beforeId?: string
}

export interface AuditQuery {
  limit?: number
  /** Only events strictly before this epoch ms. */
  before?: number
  sessionId?: string
}

/** Request/response commands; every one takes at most one input object. */
export interface TaleusCommands {
  getNodeInfo(): Promise<NodeInfo>
  listTokens(): Promise<TokenView[]>
  createToken(input: CreateTokenInput): Promise<CreatedToken>
  /** Re-derive the link of a token for its QR code (only on this node). */
  getTokenLink(input: { tokenId: string }): Promise<{ tokenId: string; link: string }>
  revokeToken(input: { tokenId: string }): Promise<TokenView>
  /** Newest first, a page at a time (default 500). */
  listSessions(input?: PageQuery): Promise<SessionView[]>
  getSessionEvents(input: { sessionId: string }): Promise<SessionEvent[]>
  listApprovals(): Promise<ApprovalView[]>
  decide(input: { sessionId: string; decision: Decision }): Promise<DecisionResult>
  /** Newest first, a page at a time (default 500). */
  listTallies(input?: PageQuery): Promise<TallyView[]>
  /** Start a bootstrap as the dialer; progress arrives as session events, the end as dial-result. */
  dial(input: DialInput): Promise<{ sessionId: string }>
  /** Wait for a dial started by dial() to end. */
  waitDial(input: { sessionId: string }): Promise<DialOutcome>
  listAudit(input: AuditQuery): Promise<SessionEvent[]>
  /** Additive (issue I): a tally's shared document, its sync state and proposals (syncs first when it can). */
  getTallyDocument(input: { tallyId: string }): Promise<TallyDocumentView>
  /** Additive: propose a change of the tally's terms; the counterparty sees it when connected. */
  proposeTerms(input: { tallyId: string; terms: TallyTerms }): Promise<TermsProposal>
  /** Additive: accept the counterparty's open proposal; its terms become the tally's. */
  acceptProposal(input: { tallyId: string; proposalId: string }): Promise<TermsProposal>
  listPeers(): Promise<PeerView[]>
}

/** The whole API: commands plus the event stream. */
export interface TaleusApi extends TaleusCommands {
  /** Receive batches of live events; returns the unsubscribe function. */
  subscribe(onBatch: (events: ConsoleEvent[]) => void): () => void
}

/** Name of a command. */
export type CommandName = keyof TaleusCommands

/** HTTP shape of each command: GET reads the input from the query string, POST from a JSON body. */
export const ROUTES = {
  getNodeInfo: { method: 'GET', path: '/api/node' },
  listTokens: { method: 'GET', path: '/api/tokens' },
  createToken: { method: 'POST', path: '/api/tokens' },
  getTokenLink: { method: 'GET', path: '/api/tokens/link' },
  revokeToken: { method: 'POST', path: '/api/tokens/revoke' },
  listSessions: { method: 'GET', path: '/api/sessions' },
  getSessionEvents: { method: 'GET', path: '/api/sessions/events' },
  listApprovals: { method: 'GET', path: '/api/approvals' },
  decide: { method: 'POST', path: '/api/approvals/decide' },
  listTallies: { method: 'GET', path: '/api/tallies' },
  dial: { method: 'POST', path: '/api/dial' },
  waitDial: { method: 'POST', path: '/api/dial/wait' },
  listAudit: { method: 'GET', path: '/api/audit' },
  getTallyDocument: { method: 'GET', path: '/api/tallies/document' },
  proposeTerms: { method: 'POST', path: '/api/tallies/propose' },
  acceptProposal: { method: 'POST', path: '/api/tallies/accept' },
  listPeers: { method: 'GET', path: '/api/peers' }
} as const satisfies Record<CommandName, { method: 'GET' | 'POST'; path: string }>

/** Every command of TaleusCommands through one transport call: the preload (IPC) and the web bridge (HTTP) share it. */
export function commandsVia(call: (name: CommandName, input?: unknown) => Promise<unknown>): TaleusCommands {
  const entries = (Object.keys(ROUTES) as CommandName[]).map((name) => [
    name,
    (input?: unknown) => call(name, input)
  ])
  return Object.fromEntries(entries) as TaleusCommands
}

/** Server-sent events endpoint: each SSE `data:` line is a JSON ConsoleEvent[] batch. */
export const EVENTS_PATH = '/api/events'

/** IPC channel names used by preload and main/api/ipc. */
export const IPC = {
  invoke: 'taleus:invoke',
  events: 'taleus:events',
  subscribe: 'taleus:subscribe'
} as const

/** Error body of a failed HTTP/IPC call. `code` is a ReasonCode or an API error code. */
export interface ApiErrorBody {
  error: { code: string; message: string }
}

/** Reply of the IPC invoke handler: errors travel as data because Electron drops an Error's `code`. */
export type IpcReply = { ok: true; value: unknown } | ({ ok: false } & ApiErrorBody)
