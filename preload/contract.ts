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
import type { NegotiationEntry, TallyTerms, TermsProposal } from '../main/tallydb/tally-document.ts'
import type { TallyDocBody } from '../main/tallydb/doc-view.ts'

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

/** Who did an operator action: the shell it came through (`system`: the node itself). */
export type Actor = 'electron' | 'browser' | 'cli' | 'system'

/** Result of verifyAudit: the audit trail's hash chain checked from its oldest file to its end. */
export interface AuditVerifyResult {
  ok: boolean
  /** Chained records checked. */
  records: number
  /** Files of the trail read. */
  files: number
  /** Records written before the chain existed (not verifiable). */
  unchained: number
  /** False when no head anchor exists (records cut from the end would go unnoticed). */
  anchored: boolean
  /** The chain's last hash (to note down and compare later). */
  head?: string
  /** The first record that does not verify: file name in the data folder, 1-based line (0: the whole file). */
  firstBreak?: { file: string; line: number; reason: string }
}

/** An operator record of the audit trail: who did what. */
export interface OperationView {
  /**
   * `approve` `reject` `token-create` `token-revoke` `token-archive` `export` `node-start` `node-stop`
   * `display-next` `store-setting` `dial` `terms-propose` `terms-accept` `terms-withdraw` `terms-decline`
   */
  op: string
  actor: Actor
  at: number
  sessionId?: string
  tokenId?: string
  tallyId?: string
  detail?: Record<string, string | number | boolean>
}

/** Filters of listTallies (all optional, combined with AND). */
export interface TallyQuery extends PageQuery {
  /** Text searched (case-insensitive) in the tally id, counterparty peer id and identity, token id and label. */
  q?: string
  /** Created at or after this epoch ms. */
  from?: number
  /** Created before this epoch ms. */
  to?: number
  status?: TallyStatus
}

/** Filters of listTokens (all optional, combined with AND). */
export interface TokenQuery {
  /** Text searched (case-insensitive) in the token id and label. */
  q?: string
  /** Created at or after this epoch ms. */
  from?: number
  /** Created before this epoch ms. */
  to?: number
  status?: TokenStatus
  /** Also list archived tokens (default false: hidden). */
  archived?: boolean
}

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

/**
 * Input of exportRows: the filtered rows of a list, as a file with the columns the screen shows
 * (preload/export-columns.ts).
 */
export interface ExportInput {
  what: 'tallies' | 'tokens' | 'audit'
  format: 'csv' | 'json'
  /**
   * The same filters as the list: TallyQuery for tallies, TokenQuery for tokens (paging ignored), and for
   * audit the AuditQuery of the rows the Node screen loaded (`limit`: how many, newest first; `before`).
   */
  query?: TallyQuery | TokenQuery | AuditQuery
}

/** A file to save: exportRows' answer (recorded in the audit trail as an `export`). */
export interface ExportResult {
  filename: string
  mimeType: string
  content: string
  rows: number
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

/** Request/response commands; every one takes at most one input object. */
export interface TaleusCommands {
  getNodeInfo(): Promise<NodeInfo>
  /** Archived tokens hidden unless `archived: true`; filters optional. */
  listTokens(input?: TokenQuery): Promise<TokenView[]>
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
  listTallies(input?: TallyQuery): Promise<TallyView[]>
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
  /** Additive: close an open proposal unaccepted: withdraw our own, or decline the counterparty's. */
  closeProposal(input: {
    tallyId: string
    proposalId: string
    how: 'withdrawn' | 'declined'
  }): Promise<TermsProposal>
  listPeers(): Promise<PeerView[]>
  /** Additive: check the audit trail's hash chain (edits, deletions, deleted files). */
  verifyAudit(): Promise<AuditVerifyResult>
  /** Additive: operator records of the audit trail, newest first (default 200). */
  listOperations(input?: { limit?: number; before?: number }): Promise<OperationView[]>
  /** Additive: a tally's page: timeline, counterparty, token, status history, what the other side was told. */
  getTally(input: { tallyId: string }): Promise<TallyDetail>
  /** Additive: hide a revoked, used-up or expired token from the default list. */
  archiveToken(input: { tokenId: string }): Promise<TokenView>
  /** Additive: the filtered rows of tallies, tokens or the audit trail as CSV or JSON (recorded in the audit trail). */
  exportRows(input: ExportInput): Promise<ExportResult>
  /** Additive: the customer display of a `per-customer` token (`displayId` from its TokenView). */
  getDisplay(input: { displayId: string }): Promise<DisplayView>
  /** Additive: end a customer display (its current token is revoked). */
  closeDisplay(input: { displayId: string }): Promise<DisplayView>
  /** Additive (issue J): the store setting, what runs now and what the next start uses. */
  getStoreSetting(): Promise<StoreSettingView>
  /**
   * Additive (issue J): check a store by connecting to it (a PostgreSQL URL: reachable, the password
   * accepted, a database we may create our tables in) and save it for the next start.
   */
  setStoreSetting(input: StoreSettingInput): Promise<StoreSettingView>
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
  closeProposal: { method: 'POST', path: '/api/tallies/close-proposal' },
  listPeers: { method: 'GET', path: '/api/peers' },
  verifyAudit: { method: 'GET', path: '/api/audit/verify' },
  listOperations: { method: 'GET', path: '/api/audit/operations' },
  getTally: { method: 'GET', path: '/api/tallies/detail' },
  archiveToken: { method: 'POST', path: '/api/tokens/archive' },
  exportRows: { method: 'POST', path: '/api/export' },
  getDisplay: { method: 'GET', path: '/api/display' },
  closeDisplay: { method: 'POST', path: '/api/display/close' },
  getStoreSetting: { method: 'GET', path: '/api/settings/store' },
  setStoreSetting: { method: 'POST', path: '/api/settings/store' }
} as const satisfies Record<CommandName, { method: 'GET' | 'POST'; path: string }>

/** Every command of TaleusCommands through one transport call: the preload (IPC) and the web bridge (HTTP) share it. */
export function commandsVia(call: (name: CommandName, input?: unknown) => Promise<unknown>): TaleusCommands {
  const entries = (Object.keys(ROUTES) as CommandName[]).map((name) => [
    name,
    (input?: unknown) => call(name, input)
  ])
  return Object.fromEntries(entries) as TaleusCommands
}

/** Our own role in a tally or session whose link role is `role` (the data's `role` is always the link's). */
export function ownRole(role: PartyRole, direction: Direction): PartyRole {
  if (direction === 'inbound') return role
  return role === 'stock' ? 'foil' : 'stock'
}

/** One sentence saying, from this node's point of view, who is the stock (it provisions the tally's database). */
export function roleSentence(role: PartyRole, direction: Direction): string {
  if (direction === 'inbound') {
    return role === 'stock'
      ? "You are the stock (you provision the tally's database); the customer is the foil."
      : "You are the foil; the customer is the stock and provisions the tally's database."
  }
  return role === 'stock'
    ? "You are the foil (the merchant is the stock and provisions the tally's database)."
    : "You are the stock (you provision the tally's database); the merchant is the foil."
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
