/**
 * The merchant store's contract: what the console service (main/service) needs from the lowdb-backed
 * store. The implementation lives beside this file; nothing here does I/O.
 */
import type { TypedEventTarget } from 'main-event'
import type { SessionEvent, SessionHooks } from '../bootstrap/types.ts'
import type { ChainReport } from './audit-chain.ts'
import type { OperatorRecord } from './audit-log.ts'
import type { TallyDb } from '../tallydb/tally-db.ts'
import type { TallyDbBackend } from '../tallydb/backend-types.ts'
import type {
  ApprovalView,
  CreateTokenInput,
  ApprovalEnd,
  Decision,
  DecisionResult,
  TallyView,
  TokenView
} from '../views/console-views.ts'
import type { AuditQuery, PageQuery } from '../views/console-queries.ts'

/** Events the store raises for the console's live stream. */
export interface StoreEvents {
  token: CustomEvent<TokenView>
  tally: CustomEvent<TallyView>
  approval: CustomEvent<ApprovalView>
  'approval-resolved': CustomEvent<{ sessionId: string; decision: ApprovalEnd }>
}

/** A node's answer about one of its tallies: settled either way, or not yet (`unsettled`: ask again). */
export type TallyVerdict = 'confirmed' | 'abandoned' | 'unsettled'

/** Who this node is, for the hooks (provisioned dbConnectionInfo points at this node). */
export interface LocalNode {
  peerId: string
  multiaddrs(): string[]
}

/** The lowdb-backed merchant store of one data folder, owned by one process. */
export interface MerchantStore extends TypedEventTarget<StoreEvents> {
  readonly dataDir: string
  /** SessionHooks backed by this store, for a SessionManager on `node`. */
  hooks(node: LocalNode): SessionHooks
  /** Create a token; returns its view and the secret token text (to put in a link; never stored in clear). */
  createToken(input: CreateTokenInput): Promise<{ view: TokenView; token: string }>
  /** Re-derive the secret token text of a token for display; throws if unknown. */
  tokenSecret(tokenId: string): string
  getToken(tokenId: string): TokenView | undefined
  listTokens(): TokenView[]
  revokeToken(tokenId: string): Promise<TokenView>
  /** Newest first; with a query a page at a time (default 500), without one all of them. */
  listTallies(query?: PageQuery): TallyView[]
  listAudit(query: AuditQuery): SessionEvent[]
  listApprovals(): ApprovalView[]
  /** Apply an operator decision; the first decision (or the timeout) wins, later ones get applied=false. */
  decide(sessionId: string, decision: Decision): Promise<DecisionResult>
  /**
   * Settle draft tallies left by a previous run (cut by a stop or crash): inbound ones become abandoned,
   * outbound ones pending (only the listener's verdict settles them).
   */
  recover(): Promise<{ abandoned: number; pending: number }>
  /** Tallies waiting for their counterparty's verdict, oldest first. */
  pendingTallies(): TallyView[]
  /** Our verdict on a tally for the peer asking, or undefined when that peer is not its counterparty (or no such tally). */
  verdictFor(tallyId: string, remotePeerId: string): TallyVerdict | undefined
  /** Settle a pending tally with its counterparty's verdict; false when nothing changed. */
  applyVerdict(tallyId: string, verdict: 'confirmed' | 'abandoned', remotePeerId: string): Promise<boolean>
  /** Additive (issue I): the shared tally database the hooks create and open documents in. */
  attachTallyDb?(db: TallyDb | undefined): void
  /**
   * Additive (issues I and J): where the tally database keeps its documents and index when not in the
   * node's folder (the cadre's PostgreSQL, shared by its nodes). Absent: DIR/tallydb.
   */
  tallyBackend?(): Promise<TallyDbBackend>
  /** Additive (issue I): the key of the tally database's grants, derived from the node secret. */
  grantKey?(): Buffer
  /** Record an operator action (who did what) in the audit trail; never throws. Optional (a store without a trail). */
  recordOperation?(record: OperatorRecord): void
  /** Records of the whole audit trail, newest first, that `match` keeps (at most `limit`); stops at `until`. */
  queryAuditRecords?(
    match: (record: Record<string, unknown>) => boolean,
    limit: number,
    until?: (record: Record<string, unknown>) => boolean
  ): Promise<Array<Record<string, unknown>>>
  /** Like listAudit, but reaches into the whole trail on disk. */
  queryAudit?(query: AuditQuery): Promise<SessionEvent[]>
  /** Check the audit trail's hash chain. */
  verifyAudit?(): Promise<ChainReport>
  /** Hide a revoked, used-up or expired token from the default list. */
  archiveToken?(tokenId: string): Promise<TokenView>
  /** A tally's view (the class returns more: its credentials, never to be passed on). */
  getTally?(tallyId: string): TallyView | undefined
  /** Flush pending writes and release the folder. */
  close(): Promise<void>
}
