/**
 * The SessionHooks of a cadre node on the PostgreSQL store: the rules of ../hook-rules.ts over the cadre's
 * tables (pg-tokens.ts, pg-tallies.ts, pg-approvals.ts, pg-audit.ts), plus this node's own bookkeeping of
 * its sessions (which token a session presented, which use it holds).
 */
import { randomUUID } from 'node:crypto'
import type { ApprovalView, IdentityBundle } from '../../views/console-views.ts'
import { RejectedError, refusal } from '../../bootstrap/errors.ts'
import type {
  DbConnectionInfo,
  DraftTally,
  HookContext,
  PartyRole,
  ProvisionResult,
  ResponseInfo,
  SessionEvent,
  SessionHooks,
  TokenInfo,
  ValidatedToken
} from '../../bootstrap/types.ts'
import type { TallyDb } from '../../tallydb/tally-db.ts'
import type { TallyTerms } from '../../tallydb/tally-document.ts'
import { StoreInputError } from '../errors.ts'
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
import {
  documentHandedOver,
  joinDocument,
  provisionDocument,
  revokeDocument
} from '../../tallydb/bootstrap-hooks.ts'
import { tokenRejection } from '../token-book.ts'
import type { LocalNode } from '../types.ts'
import type { PgApprovals } from './pg-approvals.ts'
import type { PgAudit } from './pg-audit.ts'
import type { PgTallies } from './pg-tallies.ts'
import type { PgTokens } from './pg-tokens.ts'
import { DeferredSettlements, busyWhenUnavailable, isUnavailable } from './pg-unavailable.ts'

/** What the hooks need from their store. */
export interface PgHookParts {
  tokens: PgTokens
  tallies: PgTallies
  approvals: PgApprovals
  audit: PgAudit
  now(): number
  grantKey(): Buffer
  db(): TallyDb | undefined
  assertOpen(): void
  closed(): boolean
}

/** The hooks of one store, shared by every SessionManager it backs. */
export class PgHooks {
  #p: PgHookParts
  /** sessionId → tokenId of the token it presented (tally records name their token). */
  #sessionTokens = new Map<string, string>()
  /** sessionId → tokenId whose use the session holds (released on failure, kept on success). */
  #reservations = new Map<string, string>()
  /** Tallies created by this run; recover() leaves them alone. */
  #createdThisRun = new Set<string>()
  /** Drafts of failed sessions whose abandonment waits for the database to come back. */
  readonly deferred: DeferredSettlements

  constructor(parts: PgHookParts) {
    this.#p = parts
    this.deferred = new DeferredSettlements(async (tallyId) => this.#abandon(tallyId))
  }

  /** Tallies this run created (recover() leaves them alone). */
  createdThisRun(): string[] {
    return [...this.#createdThisRun]
  }

  /**
   * SessionHooks for a SessionManager on `node`. A database that is away (or refuses writes) fails the
   * session with `busy`, not `internal-error`: the customer may try again, here or at another node.
   */
  for(node: LocalNode): SessionHooks {
    return {
      validateToken: async (token, ctx) => this.#validateToken(token, ctx).catch(busyWhenUnavailable),
      validateIdentity: async (bundle, _requirements, ctx) =>
        this.#validateIdentity(bundle, ctx.token, ctx).catch(busyWhenUnavailable),
      markTokenUsed: async (_token, _sessionId, ctx) =>
        this.#markTokenUsed(ctx.token, ctx).catch(busyWhenUnavailable),
      releaseToken: async (_token, _sessionId, ctx) => this.#releaseToken(ctx.token, ctx),
      provisionDatabase: async (role, initiatorPeerId, respondentPeerId, _sessionId, ctx) =>
        this.#provisionDatabase(node, role, initiatorPeerId, respondentPeerId, ctx).catch(
          busyWhenUnavailable
        ),
      validateResponse: async (response, ctx) =>
        this.#validateResponse(node, response, ctx).catch(busyWhenUnavailable),
      validateDatabaseResult: async (result, ctx) =>
        this.#validateDatabaseResult(node, result, ctx).catch(busyWhenUnavailable),
      settleTally: async (tallyId, outcome, ctx) =>
        this.#settleTally(tallyId, outcome, ctx).catch(busyWhenUnavailable),
      logSessionEvent: async (sessionId, event) => {
        this.#logSessionEvent(sessionId, event)
      }
    }
  }

  async #validateToken(token: string, ctx: HookContext): Promise<TokenInfo> {
    this.#p.assertOpen()
    if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) throw refusal('invalid-token')
    const record = await this.#p.tokens.find(token)
    if (record === undefined) throw refusal('invalid-token')
    const reason = tokenRejection(record, this.#p.now())
    if (reason !== undefined) throw new RejectedError(reason, undefined, { tokenId: record.tokenId })
    remember(this.#sessionTokens, ctx.sessionId, record.tokenId)
    return tokenInfo(record)
  }

  async #validateIdentity(bundle: IdentityBundle, info: ValidatedToken, ctx: HookContext): Promise<boolean> {
    this.#p.assertOpen()
    const record = this.#p.tokens.get(info.tokenId)
    const given = checkIdentity(bundle, record?.identityRequirements ?? info.identityRequirements ?? [])
    if (record?.approval !== 'operator') return true
    const requestedAt = this.#p.now()
    const view: ApprovalView = {
      sessionId: ctx.sessionId,
      tokenId: record.tokenId,
      tokenLabel: record.label,
      peerId: ctx.remotePeerId,
      bundle: copyBundle(given),
      requestedAt,
      deadline: requestedAt + record.approvalTimeoutMs
    }
    const outcome = await this.#p.approvals.wait(view, record.approvalTimeoutMs, ctx.signal)
    if (outcome === 'approve') return true
    throw new RejectedError(outcome === 'reject' ? 'identity-rejected' : 'timeout')
  }

  async #markTokenUsed(info: ValidatedToken, ctx: HookContext): Promise<void> {
    this.#p.assertOpen()
    if (this.#reservations.get(ctx.sessionId) === info.tokenId) return
    const refused = await this.#p.tokens.use(info.tokenId)
    if (refused !== undefined) throw new RejectedError(refused)
    remember(this.#reservations, ctx.sessionId, info.tokenId)
  }

  async #releaseToken(info: ValidatedToken, ctx: HookContext): Promise<void> {
    if (this.#p.closed() || this.#reservations.get(ctx.sessionId) !== info.tokenId) return
    // deleted before the await: a use is given back at most once
    this.#reservations.delete(ctx.sessionId)
    await this.#p.tokens.release(info.tokenId).catch(() => {
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
    this.#p.assertOpen()
    ctx.signal.throwIfAborted()
    const now = this.#p.now()
    const tallyId = randomUUID()
    const tally: DraftTally = {
      tallyId,
      createdBy: role,
      initiatorPeerId,
      respondentPeerId,
      createdAt: new Date(now).toISOString()
    }
    // the grant opens this tally's document for the counterparty only; it is re-derived, never stored
    const { stored, ...provisioned } = provisionDocument(
      this.#p.db(),
      this.#p.grantKey(),
      tally,
      this.#termsOf(ctx),
      ctx
    )
    // the document first, then the draft's INSERT: a row of the shared table is served by every node
    await stored
    const dbConnectionInfo: DbConnectionInfo = { nodes: [...node.multiaddrs()], ...provisioned }
    await this.#record(newTallyRecord(node, tally, dbConnectionInfo, role, ctx, now, this.#tokenOf(ctx)))
    if (ctx.signal.aborted) {
      // the session gave up while the draft was being written: nobody will hear of it, settle it now
      await this.#abandonOrDefer(tallyId)
      ctx.signal.throwIfAborted()
    }
    return {
      tally: { ...tally },
      dbConnectionInfo: { ...dbConnectionInfo, nodes: [...dbConnectionInfo.nodes] }
    }
  }

  async #validateResponse(node: LocalNode, response: ResponseInfo, ctx: HookContext): Promise<boolean> {
    this.#p.assertOpen()
    const verdict = responseVerdict(node, response, ctx)
    if (verdict === 'reject') return false
    if (verdict === 'accept') return true
    const { tally, dbConnectionInfo } = verdict.record
    if (this.#p.tallies.has(tally.tallyId)) return false
    await joinDocument(this.#p.db(), verdict.record, undefined, ctx)
    return this.#recordOnce(newTallyRecord(node, tally, dbConnectionInfo, 'stock', ctx, this.#p.now()))
  }

  async #validateDatabaseResult(
    node: LocalNode,
    result: ProvisionResult,
    ctx: HookContext
  ): Promise<boolean> {
    this.#p.assertOpen()
    // the dialer left: record nothing it could not learn of
    ctx.signal.throwIfAborted()
    if (!isProvisionResult(result, 'foil', ctx.remotePeerId, node.peerId)) return false
    if (this.#p.tallies.has(result.tally.tallyId)) return false
    // foil: the document is B's; our token's standing terms go into it
    // (none on the token: still ours to state, so B's document may preset none)
    await joinDocument(this.#p.db(), result, this.#termsOf(ctx) ?? {}, ctx)
    return this.#recordOnce(
      newTallyRecord(
        node,
        result.tally,
        result.dbConnectionInfo,
        'foil',
        ctx,
        this.#p.now(),
        this.#tokenOf(ctx)
      )
    )
  }

  async #settleTally(tallyId: string, outcome: string, ctx: HookContext): Promise<void> {
    this.#p.assertOpen()
    if (outcome !== 'confirmed' && outcome !== 'abandoned' && outcome !== 'pending')
      throw new StoreInputError('a tally settles as confirmed, abandoned or pending')
    // only the dialer waits for a verdict; a listener always knows its own
    if (outcome === 'pending' && this.#p.tallies.get(tallyId)?.direction !== 'outbound')
      throw new StoreInputError('only a tally this node dialled can be pending')
    // a session that is already over (its peer left) confirms nothing more: its peer asks later instead
    if (outcome === 'confirmed') ctx.signal.throwIfAborted()
    if (outcome === 'abandoned') await this.#abandonOrDefer(tallyId)
    else await this.#p.tallies.settle(tallyId, outcome, 'draft')
    if (outcome === 'confirmed') {
      documentHandedOver(this.#p.db(), tallyId)
      // a confirmed bootstrap keeps its token use for good
      this.#reservations.delete(ctx.sessionId)
    }
  }

  #logSessionEvent(sessionId: string, event: SessionEvent): void {
    try {
      if (this.#p.closed() || event === null || typeof event !== 'object') return
      this.#p.audit.append(event.sessionId === sessionId ? event : { ...event, sessionId })
      if (isFinalState(event.state)) {
        this.#sessionTokens.delete(sessionId)
        if (event.state.endsWith('_DONE')) this.#reservations.delete(sessionId)
      }
    } catch {
      // the audit never fails a session
    }
  }

  /** draft → abandoned, and its document's grant revoked. */
  async #abandon(tallyId: string): Promise<void> {
    await this.#p.tallies.settle(tallyId, 'abandoned', 'draft')
    await revokeDocument(this.#p.db(), tallyId)
  }

  /**
   * Abandon now, or, with the database away, as soon as it is back: a failed session's draft must not
   * stay a draft (answered `unsettled` to its dialer) until this node restarts.
   */
  async #abandonOrDefer(tallyId: string): Promise<void> {
    try {
      await this.#abandon(tallyId)
    } catch (err) {
      if (!isUnavailable(err)) throw err
      this.deferred.add(tallyId)
    }
  }

  #tokenOf(ctx: HookContext): { tokenId: string; label: string | undefined } | undefined {
    const tokenId = ctx.direction === 'inbound' ? this.#sessionTokens.get(ctx.sessionId) : undefined
    return tokenId === undefined ? undefined : { tokenId, label: this.#p.tokens.get(tokenId)?.label }
  }

  /** The standing terms of the token this (inbound) session presented (issue I). */
  #termsOf(ctx: HookContext): TallyTerms | undefined {
    const tokenId = ctx.direction === 'inbound' ? this.#sessionTokens.get(ctx.sessionId) : undefined
    const terms = tokenId === undefined ? undefined : this.#p.tokens.get(tokenId)?.terms
    return terms === undefined ? undefined : { ...terms }
  }

  async #record(record: TallyRecord): Promise<void> {
    // Audit first: no tally in the database whose session has no record in the trail (the records go in
    // the insert's own statement: one round trip, one commit). A draft keeps its full record (a
    // confirmation only flips the status); abandoning slims it.
    await this.#p.tallies.insert(record, async (q) => this.#p.audit.flushWith(q))
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
}
