/**
 * The one API contract of the Taleus console. The Electron preload exposes an object that
 * `satisfies TaleusApi`; the browser bridge (renderer/src/lib/web-bridge.ts) implements it over HTTP;
 * main/api serves both (IPC handlers and HTTP routes) from ROUTES below. Types only, plus the route table.
 */
import type {
  ApprovalView,
  ConsoleEvent,
  CreatedToken,
  CreateTokenInput,
  Decision,
  DecisionResult,
  DialInput,
  DialOutcome,
  DisplayView,
  NodeInfo,
  PeerView,
  SessionEvent,
  SessionView,
  StoreSettingInput,
  StoreSettingView,
  TallyDetail,
  TallyDocumentView,
  TallyTerms,
  TallyView,
  TermsProposal,
  TokenView
} from '../main/views/console-views.ts'
import type {
  AuditQuery,
  AuditVerifyResult,
  ExportInput,
  ExportResult,
  OperationView,
  PageQuery,
  TallyQuery,
  TokenQuery
} from '../main/views/console-queries.ts'

// the view types, for the shells and the renderer that import everything from the contract
export type * from '../main/views/console-views.ts'
export type * from '../main/views/console-queries.ts'
export { LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT } from '../main/views/console-queries.ts'
export { ownRole, roleSentence } from '../main/views/roles.ts'

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
