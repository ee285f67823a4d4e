/**
 * The SessionHooks a merchant store backs: token checks and uses, operator approval, provisioning and
 * joining tally documents, settling tallies and the audit of session events.
 */
import { randomUUID } from 'node:crypto'
import type { TypedEventEmitter } from 'main-event'
import type { ApprovalView, IdentityBundle } from '../views/console-views.ts'
import { RejectedError, refusal } from '../bootstrap/errors.ts'
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
  TokenInfo,
  ValidatedToken
} from '../bootstrap/types.ts'
import type { ApprovalDesk } from './approval-desk.ts'
import type { AuditLog } from './audit-log.ts'
import type { DiskGuard } from './disk-guard.ts'
import { StoreClosedError, StoreInputError } from './errors.ts'
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
import type { TallyBook, TallyRecord } from './tally-book.ts'
import {
  documentHandedOver,
  joinDocument,
  provisionDocument,
  revokeDocument
} from '../tallydb/bootstrap-hooks.ts'
import type { TallyLedger } from './tally-ledger.ts'
import type { TokenBook } from './token-book.ts'
import { tokenRejection, tokenView } from './token-book.ts'
import type { TallyDb } from '../tallydb/tally-db.ts'
import type { TallyTerms } from '../tallydb/tally-document.ts'
import type { LocalNode, StoreEvents } from './types.ts'

/**
 * When a listener answers with a new tally before its draft is on disk: only while no other draft is being
 * written ('alone': in a rush each answer waits for the batch it joined), or always ('always': the crash
 * suite, which holds many such drafts at once).
 */
export const DRAFT_ANSWER: { beforeWrite: 'alone' | 'always' } = { beforeWrite: 'alone' }

/** What StoreHooks uses of its store (the store's own parts, shared, not copies). */
export interface StoreHooksParts {
  tokens: TokenBook
  tallies: TallyBook
  ledger: TallyLedger
  audit: AuditLog
  approvals: ApprovalDesk
  disk: DiskGuard
  events: TypedEventEmitter<StoreEvents>
  now: () => number
  /** The shared tally database, attached after the store opens (or never). */
  db: () => TallyDb | undefined
  grantKey: () => Buffer
  isClosed: () => boolean
}

/** The implementation of the SessionHooks of a LowdbMerchantStore and the per-session state they keep. */
export class StoreHooks {
  #tokens: TokenBook
  #tallies: TallyBook
  #ledger: TallyLedger
  #audit: AuditLog
  #approvals: ApprovalDesk
  #disk: DiskGuard
  #events: TypedEventEmitter<StoreEvents>
  #now: () => number
  #db: () => TallyDb | undefined
  #grantKey: () => Buffer
  #isClosed: () => boolean
  /** sessionId → tokenId of the token it presented (tally records name their token). */
  #sessionTokens = new Map<string, string>()
  /** sessionId → tokenId whose use the session holds (released on failure, kept on success). */
  #reservations = new Map<string, string>()
  /** tallyId → the write of a draft a listener answered with before it reached the disk. */
  #writing = new Map<string, Promise<void>>()
  /** Drafts (with their documents) on their way to disk, answered yet or not. */
  #draftWrites = 0

  constructor(parts: StoreHooksParts) {
    this.#tokens = parts.tokens
    this.#tallies = parts.tallies
    this.#ledger = parts.ledger
    this.#audit = parts.audit
    this.#approvals = parts.approvals
    this.#disk = parts.disk
    this.#events = parts.events
    this.#now = parts.now
    this.#db = parts.db
    this.#grantKey = parts.grantKey
    this.#isClosed = parts.isClosed
  }

  /** SessionHooks for a SessionManager on `node`. */
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

  #assertOpen(): void {
    if (this.#isClosed()) throw new StoreClosedError()
  }

  async #validateToken(token: string, ctx: HookContext): Promise<TokenInfo> {
    this.#assertOpen()
    // disk under the reserve: refuse new sessions cleanly; the reserve is for settling existing ones
    if (this.#disk.low) throw refusal('busy')
    const record =
      typeof token === 'string' && token.length <= MAX_TOKEN_CHARS ? this.#tokens.find(token) : undefined
    if (record === undefined) throw refusal('invalid-token')
    const reason = tokenRejection(record, this.#now())
    if (reason !== undefined) throw new RejectedError(reason, undefined, { tokenId: record.tokenId })
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
    if (record === undefined) throw refusal('invalid-token')
    if (this.#reservations.get(ctx.sessionId) === record.tokenId) return
    const reason = tokenRejection(record, this.#now())
    if (reason !== undefined) throw new RejectedError(reason)
    // check above and increment here run with no await between: this is what makes a use atomic
    if (record.uses === 'unlimited') {
      // the count of an unlimited token gates nothing: no fsync'ed rewrite on the session's path
      this.#tokens.changeLazily(() => {
        record.used++
        remember(this.#reservations, ctx.sessionId, record.tokenId)
      }, record)
      this.#events.safeDispatchEvent('token', { detail: tokenView(record, this.#now()) })
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
      },
      record
    )
    this.#events.safeDispatchEvent('token', { detail: tokenView(record, this.#now()) })
  }

  async #releaseToken(info: ValidatedToken, ctx: HookContext): Promise<void> {
    if (this.#isClosed() || this.#reservations.get(ctx.sessionId) !== info.tokenId) return
    const record = this.#tokens.get(info.tokenId)
    this.#reservations.delete(ctx.sessionId)
    if (record === undefined) return
    if (record.uses === 'unlimited') {
      this.#tokens.changeLazily(() => {
        record.used = Math.max(0, record.used - 1)
      }, record)
      this.#events.safeDispatchEvent('token', { detail: tokenView(record, this.#now()) })
      return
    }
    try {
      await this.#tokens.change(
        () => {
          record.used = Math.max(0, record.used - 1)
        },
        () => {},
        record
      )
    } catch {
      // the use stays given back in memory and reaches the disk with the next write; after a crash
      // it stays consumed, the safe side
    }
    this.#events.safeDispatchEvent('token', { detail: tokenView(record, this.#now()) })
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
    const nodes = [...node.multiaddrs()]
    // the grant is a secret: the provisioner re-derives it, the opener keeps it sealed in DIR/tallydb
    const record = this.#newRecord(node, tally, { nodes }, role, ctx, now)
    // the grant opens this tally's document for the counterparty only; it is re-derived, never stored
    const { stored, ...provisioned } = provisionDocument(
      this.#db(),
      this.#grantKey(),
      tally,
      this.#termsOf(ctx),
      ctx
    )
    const answerFirst = this.#draftWrites === 0 || DRAFT_ANSWER.beforeWrite === 'always'
    const written = this.#write(record, stored)
    // A listener confirms nothing before both are on disk (settleTally waits for them), so its answer need
    // not wait: a crash before then leaves the dialer a tally we never heard of, which it ends abandoned
    // when we refuse its verdict query. It does so only while no other draft is being written, though: in a
    // rush, answers that wait for the batch they joined leave together and their confirmations come back
    // together, so each journal takes many sessions per durable write (answering at once spread them out to
    // one write per session and file; docs/performance.md, issue I). A dialer (foil) waits: the listener
    // confirms on its word alone. So does a listener whose counterparty opens the document over libp2p
    // (1.0.0, or too big for the frame).
    if (!answerFirst || ctx.direction === 'outbound' || provisioned.document === undefined) await written
    else {
      // its failure reaches the session through settleTally; it is no unhandled rejection meanwhile
      written.catch(() => {})
      this.#writing.set(tallyId, written)
    }
    if (ctx.signal.aborted) {
      // the session gave up meanwhile: nobody will hear of this tally, settle it now
      await this.#abandon(tallyId)
      ctx.signal.throwIfAborted()
    }
    const dbConnectionInfo: DbConnectionInfo = { nodes, ...provisioned }
    return {
      tally: { ...tally },
      dbConnectionInfo: { ...dbConnectionInfo, nodes: [...dbConnectionInfo.nodes] }
    }
  }

  /**
   * A provisioner's draft and its document go to disk side by side (two files): one wait, not two in a
   * row. If either fails, what was written of the tally is settled at once: nobody will hear of it.
   */
  async #write(record: TallyRecord, stored: Promise<void>): Promise<void> {
    this.#draftWrites++
    const recorded = this.#ledger.record(record)
    try {
      await Promise.all([recorded, stored])
    } catch (err) {
      await Promise.allSettled([
        recorded.then(async () => this.#ledger.settle(record.tallyId, 'abandoned')),
        stored.then(async () => revokeDocument(this.#db(), record.tallyId))
      ])
      throw err
    } finally {
      this.#draftWrites--
      this.#writing.delete(record.tallyId)
    }
  }

  /** Settle a tally we provisioned as abandoned once what was written of it is on disk. */
  async #abandon(tallyId: string): Promise<void> {
    await this.#writing.get(tallyId)?.catch(() => {})
    await this.#ledger.settle(tallyId, 'abandoned').catch(() => {})
    await revokeDocument(this.#db(), tallyId)
  }

  async #validateResponse(node: LocalNode, response: ResponseInfo, ctx: HookContext): Promise<boolean> {
    this.#assertOpen()
    const verdict = responseVerdict(node, response, ctx)
    if (verdict === 'reject') return false
    if (verdict === 'accept') return true
    const provisionResult = verdict.record
    if (this.#tallies.has(provisionResult.tally.tallyId)) return false
    return this.#joinAndRecord(node, provisionResult, 'stock', undefined, ctx)
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
    // (none on the token: still ours to state, so B's document may preset none)
    return this.#joinAndRecord(node, result, 'foil', this.#termsOf(ctx) ?? {}, ctx)
  }

  /**
   * The opener's side: hold the tally's document and record the tally (stock: B; foil: A) before the yes,
   * side by side (two files): one wait, not two in a row. B's record is durable then; A's is held until it
   * settles (TallyLedger.record).
   */
  async #joinAndRecord(
    node: LocalNode,
    result: ProvisionResult,
    role: PartyRole,
    terms: TallyTerms | undefined,
    ctx: HookContext
  ): Promise<boolean> {
    const recorded = this.#ledger.record(
      this.#newRecord(node, result.tally, result.dbConnectionInfo, role, ctx, this.#now())
    )
    try {
      await Promise.all([joinDocument(this.#db(), result, terms, ctx), recorded])
    } catch (err) {
      // the session says no (or fails) and no verdict will name this tally: what was recorded of it ends now
      await recorded.then(async () => this.#ledger.settle(result.tally.tallyId, 'abandoned')).catch(() => {})
      throw err
    }
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
    // a draft we answered before it was on disk: confirmed only once it is (a failed write fails this)
    const writing = this.#writing.get(tallyId)
    if (writing !== undefined) {
      if (outcome === 'confirmed') {
        await writing
        // the peer may have left while we waited: as above
        ctx.signal.throwIfAborted()
      } else await writing.catch(() => {})
    }
    await this.#ledger.settle(tallyId, outcome)
    // an abandoned tally's grant opens nothing any more (the opener may hold it already)
    if (outcome === 'abandoned') await revokeDocument(this.#db(), tallyId)
    if (outcome === 'confirmed') {
      documentHandedOver(this.#db(), tallyId)
      // a confirmed bootstrap keeps its token use for good
      this.#reservations.delete(ctx.sessionId)
    }
  }

  #logSessionEvent(sessionId: string, event: SessionEvent): void {
    try {
      if (this.#isClosed() || event === null || typeof event !== 'object') return
      this.#audit.append(event.sessionId === sessionId ? event : { ...event, sessionId })
      if (isFinalState(event.state)) {
        this.#sessionTokens.delete(sessionId)
        if (event.state.endsWith('_DONE')) this.#reservations.delete(sessionId)
      }
    } catch {
      // the audit never fails a session
    }
  }

  /** The standing terms of the token this (inbound) session presented. */
  #termsOf(ctx: HookContext): TallyTerms | undefined {
    const tokenId = ctx.direction === 'inbound' ? this.#sessionTokens.get(ctx.sessionId) : undefined
    const terms = tokenId === undefined ? undefined : this.#tokens.get(tokenId)?.terms
    return terms === undefined ? undefined : { ...terms }
  }

  #newRecord(
    node: LocalNode,
    tally: DraftTally,
    db: Pick<DbConnectionInfo, 'nodes'>,
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
}
