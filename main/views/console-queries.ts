/** The console's list queries, paging limits, audit records and exports (view types; see console-views.ts). */
import type { TallyStatus, TokenStatus } from './console-views.ts'

/** Default and largest page of listTallies / listSessions / listTokens. */
export const LIST_DEFAULT_LIMIT = 500
export const LIST_MAX_LIMIT = 5000

/** The longest a token may have a customer wait for the operator's approval (24 h). */
export const MAX_APPROVAL_TIMEOUT_MS = 86_400_000

/** Finished sessions the node's live table keeps, and the console's too; the oldest go first. */
export const FINISHED_SESSIONS_KEPT = 5000

/**
 * A page of a list, newest first. To get the next page, pass the last item's time (tally or token
 * `createdAt`, session `startedAt`) as `before` and its id (`tallyId`, `tokenId`, `sessionId`) as `beforeId`.
 */
export interface PageQuery {
  /** Items at most (default 500, at most 5000). */
  limit?: number
  /** Only items strictly older than this epoch ms (or as old, with an id below `beforeId`). */
  before?: number
  beforeId?: string
}

/** Query of the audit trail, newest first. */
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

/**
 * Filters of listTokens (all optional, combined with AND), and its page: a customer display archives a
 * token per customer, so a node that served for a year holds tens of thousands of them.
 */
export interface TokenQuery extends PageQuery {
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

/**
 * Input of exportRows: the filtered rows of a list, as a file with the columns the screen shows
 * (main/views/export-columns.ts).
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
