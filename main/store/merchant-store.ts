/**
 * The merchant store of one data folder and the SessionHooks it backs.
 *
 * Layout of DIR (one process owns it through DIR/.lock):
 * - `secret`        32 random bytes (0600); token text = base64url(HMAC-SHA256(secret, tokenId)).
 * - `tokens.json`   lowdb 7: tokens (sha256 of the text only) and settings; small, rewritten whole.
 * - `tallies.jsonl` append-only journal, one full tally record per change, fdatasync'ed before the hook
 *                   that changed it returns (group commit batches a rush into few fsyncs).
 * - `audit.jsonl`   append-only SessionEvents, fdatasync'ed in batches every `auditFlushMs`, on close, and
 *                   before a new tally's first line (so no tally is ever on disk without its session's record).
 * Journals are never rewritten on a write, so a write costs the same with 10 000 tallies and 100 000
 * events as with none; a crash leaves at most a torn last line, cut off at the next open.
 *
 * Token uses: markTokenUsed checks and increments `used` synchronously (no await between check and
 * increment, so of 100 concurrent sessions on a single-use token exactly one wins), remembers which
 * session holds the use (the reservation), then persists. releaseToken gives back only a use its session
 * holds. A use held when the process dies stays consumed: a single-use token is never reusable after a
 * crash. That holds for every token with a limit (its `used` is durable before the hook returns); the
 * count of an unlimited token gates nothing, so it is written lazily (coalesced, within LAZY_WRITE_MS, and
 * on close) and a crash may lose its last second of counting.
 *
 * Operator approval that reaches the token's deadline fails with RejectedError('timeout') (the wait ran
 * out of time; the operator did not reject), and 'approval-resolved' reports 'timeout'.
 */
import { randomUUID } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { TypedEventEmitter } from 'main-event'
import type {
  ApprovalView,
  AuditQuery,
  CreateTokenInput,
  Decision,
  DecisionResult,
  IdentityBundle,
  PageQuery,
  TallyView,
  TokenView
} from '../../preload/contract.ts'
import { RejectedError } from '../bootstrap/errors.ts'
import type {
  DbConnectionInfo,
  DraftTally,
  HookContext,
  PartyRole,
  ProvisionResult,
  ResponseInfo,
  SessionEvent,
  SessionHooks,
  TallyOutcome,
  TallySettlement,
  TokenInfo,
  ValidatedToken
} from '../bootstrap/types.ts'
import { ApprovalDesk } from './approval-desk.ts'
import { AuditLog } from './audit-log.ts'
import type { AuditLogInit, OperatorRecord } from './audit-log.ts'
import { verifyChain } from './audit-chain.ts'
import type { ChainReport } from './audit-chain.ts'
import { DiskGuard } from './disk-guard.ts'
import type { DiskGuardInit, DiskStats } from './disk-guard.ts'
import {
  StoreClosedError,
  StoreFullError,
  StoreInputError,
  UnknownTokenError,
  toWriteError
} from './errors.ts'
import { acquireLock } from './lock.ts'
import { pageOf } from './paging.ts'
import type { FolderLock } from './lock.ts'
import { TallyBook, tallyView } from './tally-book.ts'
import type { TallyRecord } from './tally-book.ts'
import { TokenBook, newTokenId, tokenRejection, tokenView } from './token-book.ts'
import {
  MAX_TOKEN_CHARS,
  checkIdentity,
  copyBundle,
  isFinalState,
  isProvisionResult,
  newTallyRecord,
  remember,
  responseVerdict,
  tokenInfo
} from './hook-rules.ts'
import { deriveToken, hashToken, loadSecret } from './token-secret.ts'
import { grantKeyOf, joinDocument, provisionGrant, revokeDocument } from './tally-docs.ts'
import type { TallyDb } from '../tallydb/tally-db.ts'
import type { TallyTerms } from '../tallydb/tally-document.ts'
import type { LocalNode, MerchantStore, StoreEvents, TallyVerdict } from './types.ts'

/** Options of openStore. */
export interface StoreInit {
  /** SessionEvents kept in memory for listAudit (older ones: queryAudit). Default 10 000. */
  auditMemoryEvents?: number
  /** Longest delay before appended audit events are fdatasync'ed. Default 100 ms. */
  auditFlushMs?: number
  /** Cap on the audit trail on disk, rotated files included. Default 64 MiB. */
  auditMaxBytes?: number
  /** Audit files kept, the current one included. Default 4. */
  auditFiles?: number
  /** Window in which repeated rejected contacts of one peer become one counted record; 0: off. Default 60 000. */
  auditCoalesceMs?: number
  /** Free bytes kept in reserve on the data folder's disk. Default 64 MiB, at most a quarter of the volume. */
  diskReserveBytes?: number
  /** fs.statfs of the disk guard (tests inject a fake disk). */
  statfs?: (path: string) => Promise<DiskStats>
  /** Clock for expiry and timestamps (tests). Default Date.now. */
  now?: () => number
}

/** The lowdb/journal-backed MerchantStore. Open with openStore. */
export class LowdbMerchantStore extends TypedEventEmitter<StoreEvents> implements MerchantStore {
  readonly dataDir: string
  #lock: FolderLock
  #secret: Buffer
  #tokens: TokenBook
  #tallies: TallyBook
  #audit: AuditLog
  #approvals: ApprovalDesk
  #disk: DiskGuard
  #now: () => number
  /** sessionId → tokenId of the token it presented (tally records name their token). */
  #sessionTokens = new Map<string, string>()
  /** sessionId → tokenId whose use the session holds (released on failure, kept on success). */
  #reservations = new Map<string, string>()
  /** Tallies created by this run; recover() leaves them alone. */
  #createdThisRun = new Set<string>()
  /** The status change of a tally being written, so changes of one tally never overlap. */
  #settling = new Map<string, Promise<void>>()
  #closed = false
  #closing: Promise<void> | undefined
  /** The shared tally database (issue I); without one, grants are derived but open nothing. */
  #db: TallyDb | undefined

  constructor(parts: {
    dataDir: string
    lock: FolderLock
    secret: Buffer
    tokens: TokenBook
    tallies: TallyBook
    audit: AuditLog
    disk: DiskGuard
    now: () => number
  }) {
    super()
    this.dataDir = parts.dataDir
    this.#lock = parts.lock
    this.#secret = parts.secret
    this.#tokens = parts.tokens
    this.#tallies = parts.tallies
    this.#audit = parts.audit
    this.#disk = parts.disk
    this.#now = parts.now
    this.#approvals = new ApprovalDesk({
      requested: (view) => this.safeDispatchEvent('approval', { detail: view }),
      resolved: (sessionId, decision) =>
        this.safeDispatchEvent('approval-resolved', { detail: { sessionId, decision } })
    })
  }

  /** Additive: the shared tally database the hooks create and open documents in. */
  attachTallyDb(db: TallyDb | undefined): void {
    this.#db = db
  }

  /** Additive: the key of the tally database's grants, derived from the node secret (never stored). */
  grantKey(): Buffer {
    return grantKeyOf(this.#secret)
  }

  hooks(node: LocalNode): SessionHooks {
    return {
      validateToken: async (token, ctx) => this.#validateToken(token, ctx),
      // the library hands these the token it validated (ctx.token): the store looks records up by tokenId
      validateIdentity: async (bundle, _requirements, ctx) => this.#validateIdentity(bundle, ctx.token, ctx),
      markTokenUsed: async (_token, _sessionId, ctx) => this.#markTokenUsed(ctx.token, ctx),
      releaseToken: async (_token, _sessionId, ctx) => this.#releaseToken(ctx.token, ctx),
      provisionDatabase: async (role, initiatorPeerId, respondentPeerId, _sessionId, ctx) =>
        this.#provisionDatabase(node, role, initiatorPeerId, respondentPeerId, ctx),
      validateResponse: async (response, ctx) => this.#validateResponse(node, response, ctx),
      validateDatabaseResult: async (result, ctx) => this.#validateDatabaseResult(node, result, ctx),
      settleTally: async (tallyId, outcome, ctx) => this.#settleTally(tallyId, outcome, ctx),
      logSessionEvent: async (sessionId, event) => {
        this.#logSessionEvent(sessionId, event)
      }
    }
  }

  async createToken(input: CreateTokenInput): Promise<{ view: TokenView; token: string }> {
    this.#assertOpen()
    // a new token invites new sessions, which the reserve is not for
    if (this.#disk.low) throw new StoreFullError(this.dataDir, this.#disk.free, this.#disk.reserve)
    const tokenId = newTokenId()
    const token = deriveToken(this.#secret, tokenId)
    const record = await this.#tokens.add(input, tokenId, hashToken(token), this.#now())
    const view = tokenView(record, this.#now())
    this.safeDispatchEvent('token', { detail: view })
    return { view, token }
  }

  tokenSecret(tokenId: string): string {
    this.#assertOpen()
    if (this.#tokens.get(tokenId) === undefined) throw new UnknownTokenError(tokenId)
    return deriveToken(this.#secret, tokenId)
  }

  getToken(tokenId: string): TokenView | undefined {
    const record = this.#tokens.get(tokenId)
    return record === undefined ? undefined : tokenView(record, this.#now())
  }

  listTokens(): TokenView[] {
    const now = this.#now()
    return this.#tokens.list().map((t) => tokenView(t, now))
  }

  async revokeToken(tokenId: string): Promise<TokenView> {
    this.#assertOpen()
    const record = this.#tokens.get(tokenId)
    if (record === undefined) throw new UnknownTokenError(tokenId)
    if (!record.revoked) {
      await this.#tokens.change(
        () => {
          record.revoked = true
        },
        () => {
          record.revoked = false
        }
      )
    }
    const view = tokenView(record, this.#now())
    this.safeDispatchEvent('token', { detail: view })
    return view
  }

  /** Newest first; with a query a page at a time (default 500), without one all of them (in-process callers). */
  listTallies(query?: PageQuery): TallyView[] {
    if (query === undefined)
      return [...this.#tallies.values()].sort((a, b) => b.createdAt - a.createdAt).map(tallyView)
    return pageOf(
      this.#tallies.values(),
      (t) => t.createdAt,
      (t) => t.tallyId,
      query
    ).map(tallyView)
  }

  /** Additive: a tally's full record (with its DraftTally and dbConnectionInfo: secret, do not log). */
  getTally(
    tallyId: string
  ): (TallyView & { tally: DraftTally; dbConnectionInfo: DbConnectionInfo }) | undefined {
    const r = this.#tallies.get(tallyId)
    return r === undefined
      ? undefined
      : {
          ...tallyView(r),
          tally: { ...r.tally },
          dbConnectionInfo: { ...r.dbConnectionInfo, nodes: [...r.dbConnectionInfo.nodes] }
        }
  }

  listAudit(query: AuditQuery = {}): SessionEvent[] {
    return this.#audit.list(query)
  }

  /** Record an operator action (who did what) in the audit trail; never throws. */
  recordOperation(record: OperatorRecord): void {
    if (!this.#closed) this.#audit.appendOp(record)
  }

  /** Records of the whole trail (events, operator records), newest first, that `match` keeps; stops at `until`. */
  async queryAuditRecords(
    match: (record: Record<string, unknown>) => boolean,
    limit: number,
    until?: (record: Record<string, unknown>) => boolean
  ): Promise<Array<Record<string, unknown>>> {
    this.#assertOpen()
    return this.#audit.queryRecords(match, limit, until)
  }

  /** Check the audit trail's hash chain (everything appended so far is written first). */
  async verifyAudit(): Promise<ChainReport> {
    this.#assertOpen()
    await this.#audit.flush().catch(() => {})
    return verifyChain(join(this.dataDir, 'audit.jsonl'))
  }

  /** Hide a revoked, used-up or expired token from the default list; an active one is refused. */
  async archiveToken(tokenId: string): Promise<TokenView> {
    this.#assertOpen()
    const record = this.#tokens.get(tokenId)
    if (record === undefined) throw new UnknownTokenError(tokenId)
    if (tokenRejection(record, this.#now()) === undefined)
      throw new StoreInputError('only a revoked, used-up or expired token can be archived')
    if (record.archived !== true) {
      await this.#tokens.change(
        () => {
          record.archived = true
        },
        () => {
          delete record.archived
        }
      )
    }
    const view = tokenView(record, this.#now())
    this.safeDispatchEvent('token', { detail: view })
    return view
  }

  /** Additive: like listAudit, but reaches past the in-memory events into the whole trail on disk. */
  async queryAudit(query: AuditQuery = {}): Promise<SessionEvent[]> {
    this.#assertOpen()
    return this.#audit.query(query)
  }

  listApprovals(): ApprovalView[] {
    return this.#approvals.list()
  }

  async decide(sessionId: string, decision: Decision): Promise<DecisionResult> {
    this.#assertOpen()
    if (decision !== 'approve' && decision !== 'reject')
      throw new StoreInputError('decision must be approve or reject')
    return this.#approvals.decide(sessionId, decision)
  }

  /**
   * Drafts of a past run: an inbound one (we listened) becomes `abandoned` — we never confirmed it, so the
   * dialer was never told it succeeded; an outbound one (we dialled) becomes `pending` — the listener may
   * have confirmed it after our last word, so only its verdict settles it (VerdictRecovery asks).
   */
  async recover(): Promise<{ abandoned: number; pending: number }> {
    this.#assertOpen()
    const now = this.#now()
    const changed: TallyRecord[] = []
    for (const r of this.#tallies.values()) {
      if (r.status !== 'draft' || this.#createdThisRun.has(r.tallyId)) continue
      changed.push({ ...r, status: r.direction === 'outbound' ? 'pending' : 'abandoned', updatedAt: now })
    }
    await this.#tallies.put(changed)
    for (const r of changed) this.safeDispatchEvent('tally', { detail: tallyView(r) })
    const pending = changed.filter((r) => r.status === 'pending').length
    return { abandoned: changed.length - pending, pending }
  }

  /** Additive: the tallies waiting for their counterparty's verdict, oldest first. */
  pendingTallies(): TallyView[] {
    return [...this.#tallies.values()]
      .filter((r) => r.status === 'pending')
      .sort((a, b) => a.createdAt - b.createdAt)
      .map(tallyView)
  }

  /**
   * Additive: our verdict on `tallyId` for the peer asking about it, or undefined when we hold no such
   * tally with that peer as its counterparty (the caller answers both the same way). A tally still in a
   * live session, or pending itself, is `unsettled`: ask again later.
   */
  verdictFor(tallyId: string, remotePeerId: string): TallyVerdict | undefined {
    if (typeof tallyId !== 'string' || typeof remotePeerId !== 'string') return undefined
    const r = this.#tallies.get(tallyId)
    if (r === undefined || r.counterpartyPeerId !== remotePeerId) return undefined
    return r.status === 'confirmed' || r.status === 'abandoned' ? r.status : 'unsettled'
  }

  /**
   * Additive: settles a `pending` tally with the verdict its counterparty `remotePeerId` gave. Anything
   * else (not pending, another counterparty) is left alone: returns whether it changed.
   */
  async applyVerdict(tallyId: string, verdict: TallySettlement, remotePeerId: string): Promise<boolean> {
    this.#assertOpen()
    if (verdict !== 'confirmed' && verdict !== 'abandoned') return false
    const r = this.#tallies.get(tallyId)
    if (r === undefined || r.status !== 'pending' || r.counterpartyPeerId !== remotePeerId) return false
    await this.#settle(tallyId, verdict)
    return this.#tallies.get(tallyId)?.status === verdict
  }

  async close(): Promise<void> {
    this.#closing ??= this.#close()
    await this.#closing
  }

  async #close(): Promise<void> {
    this.#closed = true
    this.#approvals.abortAll(
      new StoreClosedError('the store closed while the session waited for an operator')
    )
    try {
      await Promise.allSettled([this.#tokens.settled(), this.#tallies.close(), this.#audit.close()])
    } finally {
      await this.#lock.release()
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError()
  }

  // --- hooks -------------------------------------------------------------------------------------

  async #validateToken(token: string, ctx: HookContext): Promise<TokenInfo> {
    this.#assertOpen()
    // disk under the reserve: refuse new sessions cleanly; the reserve is for settling existing ones
    if (this.#disk.low) throw new RejectedError('busy')
    const record =
      typeof token === 'string' && token.length <= MAX_TOKEN_CHARS ? this.#tokens.find(token) : undefined
    if (record === undefined) throw new RejectedError('invalid-token')
    const reason = tokenRejection(record, this.#now())
    if (reason !== undefined) throw new RejectedError(reason)
    remember(this.#sessionTokens, ctx.sessionId, record.tokenId)
    return tokenInfo(record)
  }

  async #validateIdentity(bundle: IdentityBundle, info: ValidatedToken, ctx: HookContext): Promise<boolean> {
    this.#assertOpen()
    const record = this.#tokens.get(info.tokenId)
    const given = checkIdentity(bundle, record?.identityRequirements ?? info.identityRequirements ?? [])
    if (record?.approval !== 'operator') return true
    const requestedAt = this.#now()
    const view: ApprovalView = {
      sessionId: ctx.sessionId,
      tokenId: record.tokenId,
      tokenLabel: record.label,
      peerId: ctx.remotePeerId,
      bundle: copyBundle(given),
      requestedAt,
      deadline: requestedAt + record.approvalTimeoutMs
    }
    const outcome = await this.#approvals.wait(view, record.approvalTimeoutMs, ctx.signal)
    if (outcome === 'approve') return true
    throw new RejectedError(outcome === 'reject' ? 'identity-rejected' : 'timeout')
  }

  async #markTokenUsed(info: ValidatedToken, ctx: HookContext): Promise<void> {
    this.#assertOpen()
    const record = this.#tokens.get(info.tokenId)
    if (record === undefined) throw new RejectedError('invalid-token')
    if (this.#reservations.get(ctx.sessionId) === record.tokenId) return
    const reason = tokenRejection(record, this.#now())
    if (reason !== undefined) throw new RejectedError(reason)
    // check above and increment here run with no await between: this is what makes a use atomic
    if (record.uses === 'unlimited') {
      // the count of an unlimited token gates nothing: no fsync'ed rewrite on the session's path
      this.#tokens.changeLazily(() => {
        record.used++
        remember(this.#reservations, ctx.sessionId, record.tokenId)
      })
      this.safeDispatchEvent('token', { detail: tokenView(record, this.#now()) })
      return
    }
    await this.#tokens.change(
      () => {
        record.used++
        remember(this.#reservations, ctx.sessionId, record.tokenId)
      },
      () => {
        record.used = Math.max(0, record.used - 1)
        this.#reservations.delete(ctx.sessionId)
      }
    )
    this.safeDispatchEvent('token', { detail: tokenView(record, this.#now()) })
  }

  async #releaseToken(info: ValidatedToken, ctx: HookContext): Promise<void> {
    if (this.#closed || this.#reservations.get(ctx.sessionId) !== info.tokenId) return
    const record = this.#tokens.get(info.tokenId)
    this.#reservations.delete(ctx.sessionId)
    if (record === undefined) return
    if (record.uses === 'unlimited') {
      this.#tokens.changeLazily(() => {
        record.used = Math.max(0, record.used - 1)
      })
      this.safeDispatchEvent('token', { detail: tokenView(record, this.#now()) })
      return
    }
    try {
      await this.#tokens.change(
        () => {
          record.used = Math.max(0, record.used - 1)
        },
        () => {}
      )
    } catch {
      // the use stays given back in memory and reaches the disk with the next write; after a crash
      // it stays consumed, the safe side
    }
    this.safeDispatchEvent('token', { detail: tokenView(record, this.#now()) })
  }

  async #provisionDatabase(
    node: LocalNode,
    role: PartyRole,
    initiatorPeerId: string,
    respondentPeerId: string,
    ctx: HookContext
  ): Promise<ProvisionResult> {
    this.#assertOpen()
    ctx.signal.throwIfAborted()
    const now = this.#now()
    const tallyId = randomUUID()
    const tally: DraftTally = {
      tallyId,
      createdBy: role,
      initiatorPeerId,
      respondentPeerId,
      createdAt: new Date(now).toISOString()
    }
    // the grant opens this tally's document for the counterparty only; it is re-derived, never stored
    const grant = await provisionGrant(this.#db, this.grantKey(), tally, this.#termsOf(ctx), ctx)
    const dbConnectionInfo: DbConnectionInfo = { nodes: [...node.multiaddrs()], credentials: grant }
    // the grant is a secret: the provisioner re-derives it, the opener keeps it sealed in DIR/tallydb
    const record = this.#newRecord(node, tally, { ...dbConnectionInfo, credentials: '' }, role, ctx, now)
    await this.#record(record)
    if (ctx.signal.aborted) {
      // the session gave up while the draft was being written: nobody will hear of it, settle it now
      await this.#settle(tallyId, 'abandoned').catch(() => {})
      ctx.signal.throwIfAborted()
    }
    return {
      tally: { ...tally },
      dbConnectionInfo: { ...dbConnectionInfo, nodes: [...dbConnectionInfo.nodes] }
    }
  }

  async #validateResponse(node: LocalNode, response: ResponseInfo, ctx: HookContext): Promise<boolean> {
    this.#assertOpen()
    const verdict = responseVerdict(node, response, ctx)
    if (verdict === 'reject') return false
    if (verdict === 'accept') return true
    const provisionResult = verdict.record
    if (this.#tallies.has(provisionResult.tally.tallyId)) return false
    await joinDocument(this.#db, provisionResult, undefined, ctx)
    const record = this.#newRecord(
      node,
      provisionResult.tally,
      { ...provisionResult.dbConnectionInfo, credentials: '' },
      'stock',
      ctx,
      this.#now()
    )
    await this.#record(record)
    return true
  }

  async #validateDatabaseResult(
    node: LocalNode,
    result: ProvisionResult,
    ctx: HookContext
  ): Promise<boolean> {
    this.#assertOpen()
    // the dialer left: record nothing it could not learn of (it would ask about a tally we just made)
    ctx.signal.throwIfAborted()
    if (!isProvisionResult(result, 'foil', ctx.remotePeerId, node.peerId)) return false
    if (this.#tallies.has(result.tally.tallyId)) return false
    // foil: the document is B's; our token's standing terms go into it
    await joinDocument(this.#db, result, this.#termsOf(ctx), ctx)
    const record = this.#newRecord(
      node,
      result.tally,
      { ...result.dbConnectionInfo, credentials: '' },
      'foil',
      ctx,
      this.#now()
    )
    await this.#record(record)
    return true
  }

  async #settleTally(tallyId: string, outcome: TallyOutcome, ctx: HookContext): Promise<void> {
    this.#assertOpen()
    if (outcome !== 'confirmed' && outcome !== 'abandoned' && outcome !== 'pending')
      throw new StoreInputError('a tally settles as confirmed, abandoned or pending')
    // only the dialer waits for a verdict; a listener always knows its own
    if (outcome === 'pending' && this.#tallies.get(tallyId)?.direction !== 'outbound')
      throw new StoreInputError('only a tally this node dialled can be pending')
    // a session that is already over (its peer left) confirms nothing more: its peer asks later instead
    if (outcome === 'confirmed') ctx.signal.throwIfAborted()
    await this.#settle(tallyId, outcome)
    // an abandoned tally's grant opens nothing any more (the opener may hold it already)
    if (outcome === 'abandoned') await revokeDocument(this.#db, tallyId)
    // a confirmed bootstrap keeps its token use for good
    if (outcome === 'confirmed') this.#reservations.delete(ctx.sessionId)
  }

  #logSessionEvent(sessionId: string, event: SessionEvent): void {
    try {
      if (this.#closed || event === null || typeof event !== 'object') return
      this.#audit.append(event.sessionId === sessionId ? event : { ...event, sessionId })
      if (isFinalState(event.state)) {
        this.#sessionTokens.delete(sessionId)
        if (event.state.endsWith('_DONE')) this.#reservations.delete(sessionId)
      }
    } catch {
      // the audit never fails a session
    }
  }

  // --- tallies -----------------------------------------------------------------------------------

  /** The standing terms of the token this (inbound) session presented. */
  #termsOf(ctx: HookContext): TallyTerms | undefined {
    const tokenId = ctx.direction === 'inbound' ? this.#sessionTokens.get(ctx.sessionId) : undefined
    const terms = tokenId === undefined ? undefined : this.#tokens.get(tokenId)?.terms
    return terms === undefined ? undefined : { ...terms }
  }

  #newRecord(
    node: LocalNode,
    tally: DraftTally,
    db: DbConnectionInfo,
    role: PartyRole,
    ctx: HookContext,
    now: number
  ): TallyRecord {
    const tokenId = ctx.direction === 'inbound' ? this.#sessionTokens.get(ctx.sessionId) : undefined
    const label = tokenId === undefined ? undefined : this.#tokens.get(tokenId)?.label
    return newTallyRecord(
      node,
      tally,
      db,
      role,
      ctx,
      now,
      tokenId === undefined ? undefined : { tokenId, label }
    )
  }

  async #record(record: TallyRecord): Promise<void> {
    if (this.#tallies.has(record.tallyId)) throw new StoreInputError('tally id already recorded')
    // Audit first: a crash must never leave a tally on disk whose session has no record in the trail.
    await this.#audit.flush().catch(() => {})
    await this.#tallies.put([record])
    this.#createdThisRun.add(record.tallyId)
    this.safeDispatchEvent('tally', { detail: tallyView(record) })
  }

  /**
   * draft → pending | confirmed | abandoned, pending → confirmed | abandoned; nothing else. One change of a
   * tally at a time: a late abandon (a session's cleanup) waits for a confirm still being written and then
   * sees it, so what we answer a verdict query is what the disk holds.
   */
  async #settle(tallyId: string, outcome: TallyOutcome): Promise<void> {
    const before = this.#settling.get(tallyId)
    const run = (before ?? Promise.resolve())
      .catch(() => {})
      .then(async () => {
        const current = this.#tallies.get(tallyId)
        if (current === undefined) return
        const from = current.status
        if (from !== 'draft' && !(from === 'pending' && outcome !== 'pending')) return
        const next: TallyRecord = { ...current, status: outcome, updatedAt: this.#now() }
        await this.#tallies.put([next])
        this.safeDispatchEvent('tally', { detail: tallyView(next) })
      })
    this.#settling.set(tallyId, run)
    try {
      await run
    } finally {
      if (this.#settling.get(tallyId) === run) this.#settling.delete(tallyId)
    }
  }
}

/** Open the store of `dataDir` (created if missing), owning it until close(). */
export async function openStore(dataDir: string, init: StoreInit = {}): Promise<LowdbMerchantStore> {
  const dir = resolve(dataDir)
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw toWriteError(err, dir)
  }
  const lock = await acquireLock(dir)
  const opened: Array<{ close(): Promise<void> }> = []
  try {
    const secret = await loadSecret(dir)
    const tokens = await TokenBook.open(join(dir, 'tokens.json'))
    const tallies = await TallyBook.open(join(dir, 'tallies.jsonl'))
    opened.push(tallies)
    const diskInit: DiskGuardInit = {}
    if (init.diskReserveBytes !== undefined) diskInit.reserveBytes = init.diskReserveBytes
    if (init.statfs !== undefined) diskInit.statfs = init.statfs
    const disk = await DiskGuard.open(dir, diskInit)
    const auditInit: AuditLogInit = {
      shed: () => disk.low,
      onWrite: (bytes) => disk.consume(bytes)
    }
    if (init.auditMemoryEvents !== undefined) auditInit.memoryEvents = init.auditMemoryEvents
    if (init.auditFlushMs !== undefined) auditInit.flushMs = init.auditFlushMs
    if (init.auditMaxBytes !== undefined) auditInit.maxBytes = init.auditMaxBytes
    if (init.auditFiles !== undefined) auditInit.files = init.auditFiles
    if (init.auditCoalesceMs !== undefined) auditInit.coalesceMs = init.auditCoalesceMs
    const audit = await AuditLog.open(join(dir, 'audit.jsonl'), auditInit)
    return new LowdbMerchantStore({
      dataDir: dir,
      lock,
      secret,
      tokens,
      tallies,
      audit,
      disk,
      now: init.now ?? Date.now
    })
  } catch (err) {
    await Promise.allSettled(opened.map((o) => o.close()))
    await lock.release()
    throw err
  }
}
