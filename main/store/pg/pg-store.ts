/**
 * The MerchantStore of a cadre of nodes on one PostgreSQL database (issue J).
 *
 * Every rule that decides is one SQL statement, so it holds across nodes: a token use is one conditional
 * UPDATE (not revoked, not expired, a use left: pg-tokens.ts), a decision one conditional UPDATE of its
 * approval row (pg-approvals.ts), a confirmation one conditional UPDATE that also checks the token was not
 * revoked meanwhile (pg-tallies.ts). Reads the console makes (synchronous in the MerchantStore contract)
 * come from a mirror of tokens, tallies, approvals and recent audit events that every node keeps current
 * from the NOTIFYs each change sends. Rules shared with the lowdb store live in ../hook-rules.ts.
 */
import { randomUUID } from 'node:crypto'
import type { Pool } from 'pg'
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
} from '../../../preload/contract.ts'
import { RejectedError } from '../../bootstrap/errors.ts'
import type {
  DbConnectionInfo,
  DraftTally,
  HookContext,
  PartyRole,
  ProvisionResult,
  ResponseInfo,
  SessionEvent,
  SessionHooks,
  TallySettlement,
  TokenInfo,
  ValidatedToken
} from '../../bootstrap/types.ts'
import { StoreClosedError, StoreInputError, UnknownTokenError } from '../errors.ts'
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
} from '../hook-rules.ts'
import type { TallyRecord } from '../tally-book.ts'
import { grantKeyOf, joinDocument, provisionGrant, revokeDocument } from '../tally-docs.ts'
import type { OperatorRecord } from '../audit-log.ts'
import type { ChainReport } from '../audit-chain.ts'
import type { TallyDb } from '../../tallydb/tally-db.ts'
import type { TallyTerms } from '../../tallydb/tally-document.ts'
import { newTokenId, newTokenRecord, tokenRejection, tokenView } from '../token-book.ts'
import { deriveToken, hashToken } from '../token-secret.ts'
import type { LocalNode, MerchantStore, StoreEvents } from '../types.ts'
import { cadreSecret } from './cadre-secret.ts'
import type { CadreNote } from './notify.ts'
import { PgApprovals } from './pg-approvals.ts'
import type { NodeApproval } from './pg-approvals.ts'
import { PgAudit } from './pg-audit.ts'
import { CadreListener } from './pg-listener.ts'
import { PgNodes } from './pg-nodes.ts'
import { PgNotifier } from './pg-notifier.ts'
import { PgTallies, nodeTallyView } from './pg-tallies.ts'
import { PgTokens } from './pg-tokens.ts'

export { nodeTallyView }

/** Events beyond StoreEvents: another node's session transitions, for the cadre's one console. */
export interface CadreStoreEvents extends StoreEvents {
  'remote-session': CustomEvent<SessionEvent & { node: string }>
}

/** What the store was opened with (see openPgStore). */
export interface PgStoreParts {
  pool: Pool
  schema: string
  channel: string
  node: string
  dataDir: string
  secret: Buffer
  now: () => number
  auditFlushMs?: number
  auditMemoryEvents?: number
  staleNodeMs: number
  heartbeatMs: number
}

/** The PostgreSQL-backed MerchantStore of one cadre node. Open with openPgStore. */
export class PgMerchantStore extends TypedEventEmitter<CadreStoreEvents> implements MerchantStore {
  readonly dataDir: string
  /** This node's name in the cadre (on tallies, approvals and audit events). */
  readonly node: string
  readonly schema: string
  #pool: Pool
  #listener: CadreListener
  #secret: Buffer
  #now: () => number
  #tokens: PgTokens
  #tallies: PgTallies
  #approvals: PgApprovals
  #audit: PgAudit
  #nodes: PgNodes
  #notifier: PgNotifier
  #sessionTokens = new Map<string, string>()
  #reservations = new Map<string, string>()
  #createdThisRun = new Set<string>()
  #staleNodeMs: number
  /** The shared tally database of this node (issue I), when the service attached one. */
  #db: TallyDb | undefined
  #timers: Array<ReturnType<typeof setInterval>> = []
  #closed = false
  #closing: Promise<void> | undefined

  constructor(parts: PgStoreParts) {
    super()
    this.dataDir = parts.dataDir
    this.node = parts.node
    this.schema = parts.schema
    this.#pool = parts.pool
    this.#secret = parts.secret
    this.#now = parts.now
    this.#staleNodeMs = parts.staleNodeMs
    this.#notifier = new PgNotifier(parts.pool, parts.channel)
    const common = { pool: parts.pool, node: parts.node, notifier: this.#notifier }
    this.#tokens = new PgTokens({
      ...common,
      now: parts.now,
      changed: (view) => this.safeDispatchEvent('token', { detail: view })
    })
    this.#tallies = new PgTallies({
      ...common,
      now: parts.now,
      changed: (view) => this.safeDispatchEvent('tally', { detail: view })
    })
    this.#approvals = new PgApprovals({
      pool: parts.pool,
      node: parts.node,
      channel: parts.channel,
      now: parts.now,
      requested: (view) => this.safeDispatchEvent('approval', { detail: view }),
      resolved: (sessionId, decision) =>
        this.safeDispatchEvent('approval-resolved', { detail: { sessionId, decision } })
    })
    this.#audit = new PgAudit({
      ...common,
      ...(parts.auditFlushMs === undefined ? {} : { flushMs: parts.auditFlushMs }),
      ...(parts.auditMemoryEvents === undefined ? {} : { memoryEvents: parts.auditMemoryEvents })
    })
    this.#nodes = new PgNodes({ ...common, staleNodeMs: parts.staleNodeMs })
    this.#listener = new CadreListener({
      pool: parts.pool,
      channel: parts.channel,
      node: parts.node,
      note: (note) => this.#onNote(note),
      resumed: async () => this.reload()
    })
    const beat = setInterval(() => void this.#nodes.heartbeat().catch(() => {}), parts.heartbeatMs)
    beat.unref()
    this.#timers.push(beat)
  }

  /** Start following the cadre's notifications, then load the mirror (openPgStore calls this once). */
  async start(): Promise<void> {
    await this.#listener.start()
    await this.#nodes.heartbeat()
    await this.reload()
  }

  /** Read tokens, tallies, pending approvals and recent audit events again. */
  async reload(): Promise<void> {
    await this.#tokens.load()
    await this.#tallies.load()
    const approvals = await this.#pool.query<{ view: ApprovalView; node: string }>(
      "SELECT view, node FROM approvals WHERE status = 'pending'"
    )
    this.#approvals.load(approvals.rows.map((r) => ({ ...r.view, node: r.node })))
    const audit = await this.#pool.query<{ event: SessionEvent }>(
      'SELECT event FROM audit ORDER BY id DESC LIMIT 2000'
    )
    for (const r of audit.rows.reverse()) this.#audit.remember(r.event)
  }

  /**
   * The merchant's peer key, one for the whole cadre: the stored one, or `local` (this node's own) when
   * this is the first node to ask. Every node then presents the same identity in tallies.
   */
  async sharedPeerKey(local: Uint8Array): Promise<Uint8Array> {
    this.#assertOpen()
    return new Uint8Array(await cadreSecret(this.#pool, 'peer-key', () => local))
  }

  /** Publish this node's addresses (asked again at every heartbeat) so the other nodes' links list them. */
  async announce(addrs: () => string[]): Promise<void> {
    await this.#nodes.announce(addrs)
  }

  /** The addresses of the other live nodes of the cadre, one list per node. */
  cadreAddrs(): string[][] {
    return this.#nodes.others()
  }

  /** Issue I: the tally database this node's hooks create and open documents in. */
  attachTallyDb(db: TallyDb | undefined): void {
    this.#db = db
  }

  /** Issue I: the key of the grants, derived from the cadre's secret, so any node re-derives any grant. */
  grantKey(): Buffer {
    return grantKeyOf(this.#secret)
  }

  hooks(node: LocalNode): SessionHooks {
    return {
      validateToken: async (token, ctx) => this.#validateToken(token, ctx),
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
    const tokenId = newTokenId()
    const token = deriveToken(this.#secret, tokenId)
    const view = await this.#tokens.add(newTokenRecord(input, tokenId, hashToken(token), this.#now()))
    return { view, token }
  }

  tokenSecret(tokenId: string): string {
    this.#assertOpen()
    if (!this.#tokens.has(tokenId)) throw new UnknownTokenError(tokenId)
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

  /** Revoked for the whole cadre once this returns: every later use checks the row, and every node is told. */
  async revokeToken(tokenId: string): Promise<TokenView> {
    this.#assertOpen()
    const view = await this.#tokens.revoke(tokenId)
    if (view === undefined) throw new UnknownTokenError(tokenId)
    return view
  }

  /** Every node's tallies, newest first; with a query a page at a time. */
  listTallies(query?: PageQuery): TallyView[] {
    return this.#tallies.list(query)
  }

  /** A tally's view with its DraftTally and connection info (the grant is re-derived, never stored). */
  getTally(
    tallyId: string
  ): (TallyView & { tally: DraftTally; dbConnectionInfo: DbConnectionInfo }) | undefined {
    const r = this.#tallies.get(tallyId)
    return r === undefined
      ? undefined
      : {
          ...nodeTallyView(r),
          tally: { ...r.tally },
          dbConnectionInfo: { ...r.dbConnectionInfo, nodes: [...r.dbConnectionInfo.nodes] }
        }
  }

  /** Hide a revoked, used-up or expired token from the default list, for the whole cadre. */
  async archiveToken(tokenId: string): Promise<TokenView> {
    this.#assertOpen()
    const record = this.#tokens.get(tokenId)
    if (record === undefined) throw new UnknownTokenError(tokenId)
    if (tokenRejection(record, this.#now()) === undefined)
      throw new StoreInputError('only a revoked, used-up or expired token can be archived')
    const view = await this.#tokens.archive(tokenId)
    if (view === undefined) throw new UnknownTokenError(tokenId)
    return view
  }

  /** Record an operator action (who did what) in the cadre's trail; never throws. */
  recordOperation(record: OperatorRecord): void {
    if (!this.#closed) this.#audit.appendOp(record)
  }

  /** Records of the whole cadre's trail, newest first, that `match` keeps; stops at `until`. */
  async queryAuditRecords(
    match: (record: Record<string, unknown>) => boolean,
    limit: number,
    until?: (record: Record<string, unknown>) => boolean
  ): Promise<Array<Record<string, unknown>>> {
    this.#assertOpen()
    return this.#audit.queryRecords(match, limit, until)
  }

  /** Check every node's hash chain of the cadre's trail. */
  async verifyAudit(): Promise<ChainReport> {
    this.#assertOpen()
    return this.#audit.verify()
  }

  listAudit(query: AuditQuery = {}): SessionEvent[] {
    return this.#audit.list(query)
  }

  /** Like listAudit, but over the whole trail in the database. */
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
   * Settle drafts no session will finish: this node's from a previous run, and those of nodes silent for
   * `staleNodeMs` (killed, never restarted). An inbound draft becomes abandoned (we never confirmed it),
   * an outbound one pending (only the listener's verdict settles it, issue H). Approvals past their
   * deadline whose node did not time them out are timed out.
   */
  async recover(): Promise<{ abandoned: number; pending: number }> {
    this.#assertOpen()
    const changed = await this.#tallies.recover([...this.#createdThisRun], this.#staleNodeMs)
    const now = this.#now()
    const stale = await this.#pool.query<{ session_id: string }>(
      `UPDATE approvals SET status = 'timeout', decided_at = $1, decided_by = $2
       WHERE status = 'pending' AND deadline < $1 RETURNING session_id`,
      [now, this.node]
    )
    for (const r of stale.rows) this.#approvals.noteDecided(r.session_id, 'timeout')
    const pending = changed.filter((t) => (t.status as string) === 'pending').length
    return { abandoned: changed.length - pending, pending }
  }

  /** Tallies of this node waiting for their counterparty's verdict (issue H), oldest first. */
  pendingTallies(): TallyView[] {
    return this.#tallies
      .records()
      .filter((r) => (r.status as string) === 'pending' && r.node === this.node)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map(nodeTallyView)
  }

  /**
   * Our verdict on `tallyId` for the peer asking (issue H): any node answers for the whole cadre, from
   * its mirror. undefined when that peer is not its counterparty (or no such tally).
   */
  verdictFor(tallyId: string, remotePeerId: string): 'confirmed' | 'abandoned' | 'unsettled' | undefined {
    if (typeof tallyId !== 'string' || typeof remotePeerId !== 'string') return undefined
    const r = this.#tallies.get(tallyId)
    if (r === undefined || r.counterpartyPeerId !== remotePeerId) return undefined
    return r.status === 'confirmed' || r.status === 'abandoned' ? r.status : 'unsettled'
  }

  /** Settle a pending tally with the verdict its counterparty gave (issue H); false when nothing changed. */
  async applyVerdict(tallyId: string, verdict: TallySettlement, remotePeerId: string): Promise<boolean> {
    this.#assertOpen()
    if (verdict !== 'confirmed' && verdict !== 'abandoned') return false
    const r = this.#tallies.get(tallyId)
    if (r === undefined || r.counterpartyPeerId !== remotePeerId) return false
    return this.#tallies.settle(tallyId, verdict, 'pending')
  }

  async close(): Promise<void> {
    this.#closing ??= this.#close()
    await this.#closing
  }

  async #close(): Promise<void> {
    this.#closed = true
    for (const t of this.#timers) clearInterval(t)
    await this.#approvals.abortAll(
      new StoreClosedError('the store closed while the session waited for an operator')
    )
    await this.#audit.close().catch(() => {})
    await this.#tokens.settled().catch(() => {})
    await this.#notifier.flush()
    this.#listener.close()
    await this.#pool.end().catch(() => {})
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError()
  }

  // --- hooks -------------------------------------------------------------------------------------

  async #validateToken(token: string, ctx: HookContext): Promise<TokenInfo> {
    this.#assertOpen()
    if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) throw new RejectedError('invalid-token')
    const record = await this.#tokens.find(token)
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
    if (this.#reservations.get(ctx.sessionId) === info.tokenId) return
    const refused = await this.#tokens.use(info.tokenId)
    if (refused !== undefined) throw new RejectedError(refused)
    remember(this.#reservations, ctx.sessionId, info.tokenId)
  }

  async #releaseToken(info: ValidatedToken, ctx: HookContext): Promise<void> {
    if (this.#closed || this.#reservations.get(ctx.sessionId) !== info.tokenId) return
    // deleted before the await: a use is given back at most once
    this.#reservations.delete(ctx.sessionId)
    await this.#tokens.release(info.tokenId).catch(() => {
      // the use stays consumed: the safe side
    })
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
    const stored = { ...dbConnectionInfo, credentials: '' }
    await this.#record(newTallyRecord(node, tally, stored, role, ctx, now, this.#tokenOf(ctx)))
    if (ctx.signal.aborted) {
      // the session gave up while the draft was being written: nobody will hear of it, settle it now
      await this.#tallies.settle(tallyId, 'abandoned', 'draft').catch(() => false)
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
    const { tally, dbConnectionInfo } = verdict.record
    if (this.#tallies.has(tally.tallyId)) return false
    await joinDocument(this.#db, verdict.record, undefined, ctx)
    const stored = { ...dbConnectionInfo, credentials: '' }
    return this.#recordOnce(newTallyRecord(node, tally, stored, 'stock', ctx, this.#now()))
  }

  async #validateDatabaseResult(
    node: LocalNode,
    result: ProvisionResult,
    ctx: HookContext
  ): Promise<boolean> {
    this.#assertOpen()
    // the dialer left: record nothing it could not learn of
    ctx.signal.throwIfAborted()
    if (!isProvisionResult(result, 'foil', ctx.remotePeerId, node.peerId)) return false
    if (this.#tallies.has(result.tally.tallyId)) return false
    // foil: the document is B's; our token's standing terms go into it
    await joinDocument(this.#db, result, this.#termsOf(ctx), ctx)
    const stored = { ...result.dbConnectionInfo, credentials: '' }
    return this.#recordOnce(
      newTallyRecord(node, result.tally, stored, 'foil', ctx, this.#now(), this.#tokenOf(ctx))
    )
  }

  async #settleTally(tallyId: string, outcome: string, ctx: HookContext): Promise<void> {
    this.#assertOpen()
    if (outcome !== 'confirmed' && outcome !== 'abandoned' && outcome !== 'pending')
      throw new StoreInputError('a tally settles as confirmed, abandoned or pending')
    // only the dialer waits for a verdict; a listener always knows its own
    if (outcome === 'pending' && this.#tallies.get(tallyId)?.direction !== 'outbound')
      throw new StoreInputError('only a tally this node dialled can be pending')
    // a session that is already over (its peer left) confirms nothing more: its peer asks later instead
    if (outcome === 'confirmed') ctx.signal.throwIfAborted()
    await this.#tallies.settle(tallyId, outcome, 'draft')
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

  #tokenOf(ctx: HookContext): { tokenId: string; label: string | undefined } | undefined {
    const tokenId = ctx.direction === 'inbound' ? this.#sessionTokens.get(ctx.sessionId) : undefined
    return tokenId === undefined ? undefined : { tokenId, label: this.#tokens.get(tokenId)?.label }
  }

  /** The standing terms of the token this (inbound) session presented (issue I). */
  #termsOf(ctx: HookContext): TallyTerms | undefined {
    const tokenId = ctx.direction === 'inbound' ? this.#sessionTokens.get(ctx.sessionId) : undefined
    const terms = tokenId === undefined ? undefined : this.#tokens.get(tokenId)?.terms
    return terms === undefined ? undefined : { ...terms }
  }

  async #record(record: TallyRecord): Promise<void> {
    // Audit first: no tally in the database whose session has no record in the trail. A draft keeps its
    // full record (a confirmation only flips the status); abandoning slims it.
    await this.#audit.flush().catch(() => {})
    await this.#tallies.insert(record)
    this.#createdThisRun.add(record.tallyId)
  }

  /** Record a tally the other party provisioned; false when its id is taken already (on any node). */
  async #recordOnce(record: TallyRecord): Promise<boolean> {
    try {
      await this.#record(record)
      return true
    } catch (err) {
      if ((err as { code?: string }).code === '23505') return false
      throw err
    }
  }

  // --- notifications -----------------------------------------------------------------------------

  #onNote(note: CadreNote): void {
    switch (note.k) {
      case 'token':
        this.#tokens.apply(note.row, true)
        return
      case 'tally':
        if (note.row !== undefined) this.#tallies.apply(note.row, true)
        else if (note.id !== undefined) void this.#tallies.fetch(note.id)
        return
      case 'approval':
        if (note.n !== this.node) this.#approvals.noteRequested(note.view as NodeApproval)
        return
      case 'decided':
        this.#approvals.noteDecided(note.sessionId, note.decision)
        return
      case 'node':
        this.#nodes.note(note.n, note.addrs)
        return
      case 'audit':
        if (note.n === this.node) return
        for (const event of note.events) {
          this.#audit.remember(event)
          this.safeDispatchEvent('remote-session', { detail: { ...event, node: note.n } })
        }
    }
  }
}
