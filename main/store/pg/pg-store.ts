/**
 * The MerchantStore of a cadre of nodes on one PostgreSQL database (issue J).
 *
 * Every rule that decides is one SQL statement, so it holds across nodes: a token use is one conditional
 * UPDATE (not revoked, not expired, a use left), a decision one conditional UPDATE of its approval row,
 * a confirmation one conditional UPDATE that also checks the token was not revoked meanwhile. Reads the
 * console makes (synchronous in the MerchantStore contract) come from a mirror of tokens, tallies,
 * approvals and recent audit events that every node keeps current from the NOTIFYs each change sends.
 * Rules shared with the lowdb store live in ../hook-rules.ts and ../token-book.ts.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { Notification, Pool, PoolClient } from 'pg'
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
import { pageOf } from '../paging.ts'
import { tallyView } from '../tally-book.ts'
import type { TallyRecord } from '../tally-book.ts'
import { newTokenId, newTokenRecord, tokenRejection, tokenView } from '../token-book.ts'
import type { TokenRecord } from '../token-book.ts'
import { deriveToken, hashToken } from '../token-secret.ts'
import type { LocalNode, MerchantStore, StoreEvents } from '../types.ts'
import { PgApprovals } from './pg-approvals.ts'
import type { NodeApproval } from './pg-approvals.ts'
import { PgAudit } from './pg-audit.ts'
import { notifiable, tallyFromRow, tokenFromRow, tokenParams } from './pg-rows.ts'
import type { NodeTally, TallyRow, TokenRow } from './pg-rows.ts'
import { MAX_PAYLOAD, parseNote } from './notify.ts'
import { cadreSecret } from './cadre-secret.ts'
import type { CadreNote } from './notify.ts'

/** Events beyond StoreEvents: another node's session transitions, for the cadre's one console. */
export interface CadreStoreEvents extends StoreEvents {
  'remote-session': CustomEvent<SessionEvent & { node: string }>
}

/** What the store was opened with (see openPgStore). */
export interface PgStoreParts {
  pool: Pool
  listener: PoolClient
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

/** An abandoned tally keeps no identity, cadre or credentials (as in the lowdb journal). */
const SLIM_SQL = `(record - 'counterpartyIdentity' - 'counterpartyCadre')
  || '{"dbConnectionInfo": {"nodes": [], "credentials": ""}}'::jsonb`

const TOKEN_NOTE = (channel: string, node: string): string =>
  `pg_notify('${channel}', json_build_object('k', 'token', 'n', '${node}'::text, 'row', to_jsonb(t))::text)`

/** The PostgreSQL-backed MerchantStore of one cadre node. Open with openPgStore. */
export class PgMerchantStore extends TypedEventEmitter<CadreStoreEvents> implements MerchantStore {
  readonly dataDir: string
  /** This node's name in the cadre (on tallies, approvals and audit events). */
  readonly node: string
  readonly schema: string
  #pool: Pool
  #listener: PoolClient
  #channel: string
  #secret: Buffer
  #now: () => number
  #tokens = new Map<string, { record: TokenRecord; rev: number }>()
  #byHash = new Map<string, string>()
  #tallies = new Map<string, { record: NodeTally; rev: number }>()
  #approvals: PgApprovals
  #audit: PgAudit
  #sessionTokens = new Map<string, string>()
  #reservations = new Map<string, string>()
  #createdThisRun = new Set<string>()
  #staleNodeMs: number
  #addrs: () => string[] = () => []
  /** The other live nodes' addresses, by node. */
  #cadre = new Map<string, string[]>()
  #timers: Array<ReturnType<typeof setInterval>> = []
  #closed = false
  #closing: Promise<void> | undefined

  constructor(parts: PgStoreParts) {
    super()
    this.dataDir = parts.dataDir
    this.node = parts.node
    this.schema = parts.schema
    this.#pool = parts.pool
    this.#listener = parts.listener
    this.#channel = parts.channel
    this.#secret = parts.secret
    this.#now = parts.now
    this.#staleNodeMs = parts.staleNodeMs
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
      pool: parts.pool,
      node: parts.node,
      channel: parts.channel,
      ...(parts.auditFlushMs === undefined ? {} : { flushMs: parts.auditFlushMs }),
      ...(parts.auditMemoryEvents === undefined ? {} : { memoryEvents: parts.auditMemoryEvents })
    })
    const beat = setInterval(() => void this.#heartbeat().catch(() => {}), parts.heartbeatMs)
    beat.unref()
    this.#timers.push(beat)
  }

  /** Load the mirror and start following the cadre's notifications (openPgStore calls this once). */
  async start(): Promise<void> {
    this.#listener.on('notification', (msg: Notification) => this.#onNotification(msg))
    await this.#listener.query(`LISTEN "${this.#channel}"`)
    await this.#heartbeat()
    await this.reload()
  }

  /** Read tokens, tallies and pending approvals again (after a lost notification connection). */
  async reload(): Promise<void> {
    const tokens = await this.#pool.query<TokenRow>('SELECT * FROM tokens')
    for (const row of tokens.rows) this.#applyToken(row, false)
    const tallies = await this.#pool.query<TallyRow>(
      'SELECT tally_id, status, node, updated_at, record, rev FROM tallies'
    )
    for (const row of tallies.rows) this.#applyTally(row, false)
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
    const record = newTokenRecord(input, tokenId, hashToken(token), this.#now())
    const res = await this.#pool.query<TokenRow>(
      `WITH t AS (
         INSERT INTO tokens (token_id, token_hash, label, role, uses, used, expires_at, revoked,
           identity_requirements, approval, approval_timeout_ms, created_at, extra)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *
       ) SELECT t.*, ${TOKEN_NOTE(this.#channel, this.node)} FROM t`,
      tokenParams(record)
    )
    const view = this.#applyToken(res.rows[0] as TokenRow, true)
    return { view, token }
  }

  tokenSecret(tokenId: string): string {
    this.#assertOpen()
    if (!this.#tokens.has(tokenId)) throw new UnknownTokenError(tokenId)
    return deriveToken(this.#secret, tokenId)
  }

  getToken(tokenId: string): TokenView | undefined {
    const entry = this.#tokens.get(tokenId)
    return entry === undefined ? undefined : tokenView(entry.record, this.#now())
  }

  listTokens(): TokenView[] {
    const now = this.#now()
    return [...this.#tokens.values()]
      .map((e) => e.record)
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((t) => tokenView(t, now))
  }

  /** Revoked for the whole cadre once this returns: every later use checks the row, and every node is told. */
  async revokeToken(tokenId: string): Promise<TokenView> {
    this.#assertOpen()
    const res = await this.#pool.query<TokenRow>(
      `WITH t AS (
         UPDATE tokens SET revoked = true, rev = rev + 1 WHERE token_id = $1 RETURNING *
       ) SELECT t.*, ${TOKEN_NOTE(this.#channel, this.node)} FROM t`,
      [tokenId]
    )
    const row = res.rows[0]
    if (row === undefined) throw new UnknownTokenError(tokenId)
    return this.#applyToken(row, true)
  }

  listTallies(query?: PageQuery): TallyView[] {
    const records = [...this.#tallies.values()].map((e) => e.record)
    if (query === undefined) return records.sort((a, b) => b.createdAt - a.createdAt).map(nodeTallyView)
    return pageOf(
      records,
      (t) => t.createdAt,
      (t) => t.tallyId,
      query
    ).map(nodeTallyView)
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
    const now = this.#now()
    const res = await this.#pool.query<TallyRow & { session_id: string | null }>(
      `WITH gone AS (
         SELECT node FROM nodes WHERE node <> $2 AND seen_at < now() - make_interval(secs => $3::double precision / 1000)
       ), t AS (
         UPDATE tallies SET updated_at = $1, rev = rev + 1,
           status = CASE WHEN direction = 'outbound' THEN 'pending' ELSE 'abandoned' END,
           record = CASE WHEN direction = 'outbound' THEN record ELSE ${SLIM_SQL} END
         WHERE status = 'draft'
           AND ((node = $2 AND NOT (tally_id = ANY($4::text[]))) OR node IN (SELECT node FROM gone))
         RETURNING tally_id, status, node, updated_at, record, rev
       ), a AS (
         UPDATE approvals SET status = 'timeout', decided_at = $1, decided_by = $2
         WHERE status = 'pending' AND deadline < $1 RETURNING session_id
       )
       SELECT t.*, NULL AS session_id FROM t
       UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, a.session_id FROM a`,
      [now, this.node, this.#staleNodeMs, [...this.#createdThisRun]]
    )
    let abandoned = 0
    let pending = 0
    for (const row of res.rows) {
      if (row.session_id !== null) {
        this.#approvals.noteDecided(row.session_id, 'timeout')
        continue
      }
      if (row.status === 'pending') pending++
      else abandoned++
      this.#applyTally(row, true)
      await this.#notifyTally(row)
    }
    return { abandoned, pending }
  }

  /** Tallies of this node waiting for their counterparty's verdict (issue H), oldest first. */
  pendingTallies(): TallyView[] {
    return [...this.#tallies.values()]
      .map((e) => e.record)
      .filter((r) => (r.status as string) === 'pending' && r.node === this.node)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map(nodeTallyView)
  }

  /**
   * Our verdict on `tallyId` for the peer asking (issue H): any cadre node answers for the whole cadre,
   * from the database, not the mirror. undefined when that peer is not its counterparty (or no such tally).
   */
  verdictFor(tallyId: string, remotePeerId: string): 'confirmed' | 'abandoned' | 'unsettled' | undefined {
    if (typeof tallyId !== 'string' || typeof remotePeerId !== 'string') return undefined
    const r = this.#tallies.get(tallyId)?.record
    if (r === undefined || r.counterpartyPeerId !== remotePeerId) return undefined
    return r.status === 'confirmed' || r.status === 'abandoned' ? r.status : 'unsettled'
  }

  /** Settle a pending tally with the verdict its counterparty gave (issue H); false when nothing changed. */
  async applyVerdict(tallyId: string, verdict: TallySettlement, remotePeerId: string): Promise<boolean> {
    this.#assertOpen()
    if (verdict !== 'confirmed' && verdict !== 'abandoned') return false
    const r = this.#tallies.get(tallyId)?.record
    if (r === undefined || r.counterpartyPeerId !== remotePeerId) return false
    return this.#settle(tallyId, verdict, 'pending')
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
    this.#listener.release()
    await this.#pool.end().catch(() => {})
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError()
  }

  // --- hooks -------------------------------------------------------------------------------------

  async #validateToken(token: string, ctx: HookContext): Promise<TokenInfo> {
    this.#assertOpen()
    if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) throw new RejectedError('invalid-token')
    const record = await this.#findToken(token)
    if (record === undefined) throw new RejectedError('invalid-token')
    const reason = tokenRejection(record, this.#now())
    if (reason !== undefined) throw new RejectedError(reason)
    remember(this.#sessionTokens, ctx.sessionId, record.tokenId)
    return tokenInfo(record)
  }

  async #validateIdentity(bundle: IdentityBundle, info: ValidatedToken, ctx: HookContext): Promise<boolean> {
    this.#assertOpen()
    const record = this.#tokens.get(info.tokenId)?.record
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

  /** One statement takes the use, whichever node runs it: of N racing sessions exactly `uses` win. */
  async #markTokenUsed(info: ValidatedToken, ctx: HookContext): Promise<void> {
    this.#assertOpen()
    if (this.#reservations.get(ctx.sessionId) === info.tokenId) return
    const res = await this.#pool.query<TokenRow>(
      `WITH t AS (
         UPDATE tokens SET used = used + 1, rev = rev + 1
         WHERE token_id = $1 AND NOT revoked AND (uses IS NULL OR used < uses)
           AND (expires_at IS NULL OR expires_at > $2)
         RETURNING *
       ) SELECT t.*, ${TOKEN_NOTE(this.#channel, this.node)} FROM t`,
      [info.tokenId, this.#now()]
    )
    const row = res.rows[0]
    if (row === undefined) {
      const current = await this.#pool.query<TokenRow>('SELECT * FROM tokens WHERE token_id = $1', [
        info.tokenId
      ])
      const now = current.rows[0]
      if (now === undefined) throw new RejectedError('invalid-token')
      this.#applyToken(now, false)
      throw new RejectedError(tokenRejection(tokenFromRow(now), this.#now()) ?? 'token-used')
    }
    remember(this.#reservations, ctx.sessionId, info.tokenId)
    this.#applyToken(row, true)
  }

  async #releaseToken(info: ValidatedToken, ctx: HookContext): Promise<void> {
    if (this.#closed || this.#reservations.get(ctx.sessionId) !== info.tokenId) return
    // deleted before the await: a use is given back at most once
    this.#reservations.delete(ctx.sessionId)
    try {
      const res = await this.#pool.query<TokenRow>(
        `WITH t AS (
           UPDATE tokens SET used = greatest(used - 1, 0), rev = rev + 1 WHERE token_id = $1 RETURNING *
         ) SELECT t.*, ${TOKEN_NOTE(this.#channel, this.node)} FROM t`,
        [info.tokenId]
      )
      if (res.rows[0] !== undefined) this.#applyToken(res.rows[0], true)
    } catch {
      // the use stays consumed: the safe side
    }
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
    const dbConnectionInfo: DbConnectionInfo = {
      nodes: [...node.multiaddrs()],
      credentials: randomBytes(32).toString('base64url')
    }
    const record = newTallyRecord(node, tally, dbConnectionInfo, role, ctx, now, this.#tokenOf(ctx))
    await this.#record(record)
    if (ctx.signal.aborted) {
      await this.#settle(tallyId, 'abandoned').catch(() => false)
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
    const record = newTallyRecord(node, tally, dbConnectionInfo, 'stock', ctx, this.#now())
    return this.#record(record).then(
      () => true,
      (err: unknown) => {
        if ((err as { code?: string }).code === '23505') return false
        throw err
      }
    )
  }

  async #validateDatabaseResult(
    node: LocalNode,
    result: ProvisionResult,
    ctx: HookContext
  ): Promise<boolean> {
    this.#assertOpen()
    if (!isProvisionResult(result, 'foil', ctx.remotePeerId, node.peerId)) return false
    if (this.#tallies.has(result.tally.tallyId)) return false
    const record = newTallyRecord(
      node,
      result.tally,
      result.dbConnectionInfo,
      'foil',
      ctx,
      this.#now(),
      this.#tokenOf(ctx)
    )
    return this.#record(record).then(
      () => true,
      (err: unknown) => {
        if ((err as { code?: string }).code === '23505') return false
        throw err
      }
    )
  }

  async #settleTally(tallyId: string, outcome: string, ctx: HookContext): Promise<void> {
    this.#assertOpen()
    if (outcome !== 'confirmed' && outcome !== 'abandoned' && outcome !== 'pending')
      throw new StoreInputError('a tally settles as confirmed, abandoned or pending')
    // only the dialer waits for a verdict; a listener always knows its own
    if (outcome === 'pending' && this.#tallies.get(tallyId)?.record.direction !== 'outbound')
      throw new StoreInputError('only a tally this node dialled can be pending')
    // a session that is already over (its peer left) confirms nothing more: its peer asks later instead
    if (outcome === 'confirmed') ctx.signal.throwIfAborted()
    await this.#settle(tallyId, outcome, 'draft')
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

  #tokenOf(ctx: HookContext): { tokenId: string; label: string | undefined } | undefined {
    const tokenId = ctx.direction === 'inbound' ? this.#sessionTokens.get(ctx.sessionId) : undefined
    return tokenId === undefined ? undefined : { tokenId, label: this.#tokens.get(tokenId)?.record.label }
  }

  async #record(record: TallyRecord): Promise<void> {
    // Audit first: no tally in the database whose session has no record in the trail. A draft keeps its
    // full record (a confirmation only flips the status); abandoning slims it.
    await this.#audit.flush().catch(() => {})
    const res = await this.#pool.query<TallyRow>(
      `INSERT INTO tallies (tally_id, status, direction, node, session_id, token_id, counterparty_peer_id,
         created_at, updated_at, record)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING tally_id, status, node, updated_at, record, rev`,
      [
        record.tallyId,
        record.status,
        record.direction,
        this.node,
        record.sessionId,
        record.tokenId ?? null,
        record.counterpartyPeerId,
        record.createdAt,
        record.updatedAt,
        JSON.stringify(record)
      ]
    )
    this.#createdThisRun.add(record.tallyId)
    const row = res.rows[0] as TallyRow
    this.#applyTally(row, true)
    await this.#notifyTally(row)
  }

  /**
   * `from` → confirmed | abandoned | pending, once, in one statement (draft → any, pending → a verdict).
   * A confirmation of a tally whose token was revoked meanwhile (on any node) fails with token-revoked:
   * the revocation is seen before we answer. Returns whether the tally changed.
   */
  async #settle(tallyId: string, outcome: string, from: 'draft' | 'pending' = 'draft'): Promise<boolean> {
    const res = await this.#pool.query<TallyRow>(
      `UPDATE tallies SET status = $2, updated_at = $3, rev = rev + 1,
         record = CASE WHEN $2 = 'abandoned' THEN ${SLIM_SQL} ELSE record END
       WHERE tally_id = $1 AND status = $4
         AND ($2 <> 'confirmed' OR direction = 'outbound' OR token_id IS NULL
           OR NOT EXISTS (SELECT 1 FROM tokens k WHERE k.token_id = tallies.token_id AND k.revoked))
       RETURNING tally_id, status, node, updated_at, record, rev`,
      [tallyId, outcome, this.#now(), from]
    )
    const row = res.rows[0]
    if (row === undefined) {
      if (outcome !== 'confirmed' || from !== 'draft') return false
      const held = await this.#pool.query<{ status: string; revoked: boolean | null }>(
        `SELECT t.status, k.revoked FROM tallies t LEFT JOIN tokens k ON k.token_id = t.token_id
         WHERE t.tally_id = $1`,
        [tallyId]
      )
      if (held.rows[0]?.status === 'draft' && held.rows[0].revoked === true)
        throw new RejectedError('token-revoked')
      return false
    }
    this.#applyTally(row, true)
    await this.#notifyTally(row)
    return true
  }

  async #notifyTally(row: TallyRow): Promise<void> {
    const note = JSON.stringify({ k: 'tally', n: this.node, row: { ...row, record: notifiable(row.record) } })
    const payload =
      Buffer.byteLength(note) <= MAX_PAYLOAD
        ? note
        : JSON.stringify({ k: 'tally', n: this.node, id: row.tally_id })
    await this.#pool.query('SELECT pg_notify($1, $2)', [this.#channel, payload]).catch(() => {})
  }

  // --- the mirror --------------------------------------------------------------------------------

  /** The token of `text`: from the mirror, else (created a moment ago on another node) from the table. */
  async #findToken(text: string): Promise<TokenRecord | undefined> {
    const hash = hashToken(text)
    const id = this.#byHash.get(hash)
    if (id !== undefined) return this.#tokens.get(id)?.record
    const res = await this.#pool.query<TokenRow>('SELECT * FROM tokens WHERE token_hash = $1', [hash])
    const row = res.rows[0]
    if (row === undefined) return undefined
    this.#applyToken(row, false)
    return this.#tokens.get(row.token_id)?.record
  }

  /** Keep the newest revision of a token row; `announce`: raise the console's event. */
  #applyToken(row: TokenRow, announce: boolean): TokenView {
    const rev = Number(row.rev)
    const current = this.#tokens.get(row.token_id)
    if (current === undefined || current.rev < rev) {
      const record = tokenFromRow(row)
      this.#tokens.set(record.tokenId, { record, rev })
      this.#byHash.set(record.tokenHash, record.tokenId)
    }
    const view = tokenView((this.#tokens.get(row.token_id) as { record: TokenRecord }).record, this.#now())
    if (announce && (current === undefined || current.rev < rev))
      this.safeDispatchEvent('token', { detail: view })
    return view
  }

  #applyTally(row: TallyRow, announce: boolean): void {
    const rev = Number(row.rev)
    const current = this.#tallies.get(row.tally_id)
    if (current !== undefined && current.rev >= rev) return
    // a confirmed tally is never downgraded, whatever order notifications arrive in
    if (current?.record.status === 'confirmed' && row.status !== 'confirmed') return
    const record = tallyFromRow(row)
    this.#tallies.set(record.tallyId, { record, rev })
    if (announce) this.safeDispatchEvent('tally', { detail: nodeTallyView(record) })
  }

  #onNotification(msg: Notification): void {
    if (msg.channel !== this.#channel || this.#closed) return
    const note = parseNote(msg.payload)
    if (note === undefined) return
    try {
      this.#onNote(note)
    } catch {
      // a malformed note from an older node changes nothing
    }
  }

  #onNote(note: CadreNote): void {
    switch (note.k) {
      case 'token':
        this.#applyToken(note.row, true)
        return
      case 'tally':
        if (note.row !== undefined) this.#applyTally(note.row, true)
        else if (note.id !== undefined) void this.#fetchTally(note.id)
        return
      case 'approval':
        if (note.n !== this.node) this.#approvals.noteRequested(note.view as NodeApproval)
        return
      case 'decided':
        this.#approvals.noteDecided(note.sessionId, note.decision)
        return
      case 'node':
        if (note.n !== this.node) this.#cadre.set(note.n, textList(note.addrs))
        return
      case 'audit':
        if (note.n === this.node) return
        for (const event of note.events) {
          this.#audit.remember(event)
          this.safeDispatchEvent('remote-session', { detail: { ...event, node: note.n } })
        }
    }
  }

  async #fetchTally(tallyId: string): Promise<void> {
    const res = await this.#pool
      .query<TallyRow>(
        'SELECT tally_id, status, node, updated_at, record, rev FROM tallies WHERE tally_id = $1',
        [tallyId]
      )
      .catch(() => undefined)
    const row = res?.rows[0]
    if (row !== undefined) this.#applyTally({ ...row, record: notifiable(row.record) }, true)
  }

  /** Publish this node's addresses (asked again at every heartbeat) so other nodes' links list them. */
  async announce(addrs: () => string[]): Promise<void> {
    this.#addrs = addrs
    await this.#heartbeat()
    // the others put us in their links at once, not at their next heartbeat
    await this.#pool
      .query('SELECT pg_notify($1, $2)', [
        this.#channel,
        JSON.stringify({ k: 'node', n: this.node, addrs: addrs().slice(0, 16) })
      ])
      .catch(() => {})
  }

  /** The addresses of the other live nodes of the cadre, one list per node (as of the last heartbeat). */
  cadreAddrs(): string[][] {
    return [...this.#cadre.values()].map((a) => [...a])
  }

  async #heartbeat(): Promise<void> {
    const res = await this.#pool.query<{ node: string; addrs: string[] }>(
      `WITH me AS (
         INSERT INTO nodes (node, peer_id, addrs, seen_at) VALUES ($1, '', $2, now())
         ON CONFLICT (node) DO UPDATE SET seen_at = now(), addrs = EXCLUDED.addrs
       )
       SELECT node, addrs FROM nodes
       WHERE node <> $1 AND seen_at > now() - make_interval(secs => $3::double precision / 1000)
       ORDER BY node`,
      [this.node, JSON.stringify(this.#addrs()), this.#staleNodeMs]
    )
    this.#cadre = new Map(res.rows.map((r) => [r.node, textList(r.addrs)]))
  }
}

/** The view of a cadre tally: with the node that holds its session. */
export function nodeTallyView(r: NodeTally): TallyView & { node: string } {
  return { ...tallyView(r), node: r.node }
}

function textList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string') : []
}
