/**
 * The MerchantStore of a cadre of nodes on one PostgreSQL database (issue J).
 *
 * Every rule that decides is one SQL statement, so it holds across nodes: a token use is one conditional
 * UPDATE (not revoked, not expired, a use left: pg-tokens.ts), a decision one conditional UPDATE of its
 * approval row (pg-approvals.ts), a confirmation one conditional UPDATE that also checks the token was not
 * revoked meanwhile (pg-tallies.ts). Reads the console makes (synchronous in the MerchantStore contract)
 * come from a mirror of tokens, tallies, approvals and recent audit events that every node keeps current
 * from the notes each change sends. The hooks are in pg-hooks.ts; rules shared with the lowdb store live
 * in ../hook-rules.ts and ../../tallydb/bootstrap-hooks.ts.
 */
import type { Pool } from 'pg'
import { TypedEventEmitter } from 'main-event'
import type {
  ApprovalView,
  CreateTokenInput,
  Decision,
  DecisionResult,
  TallyView,
  TokenView
} from '../../views/console-views.ts'
import type { AuditQuery, PageQuery } from '../../views/console-queries.ts'
import type {
  DbConnectionInfo,
  DraftTally,
  SessionEvent,
  SessionHooks,
  TallySettlement
} from '../../bootstrap/types.ts'
import type { TallyDbBackend } from '../../tallydb/backend-types.ts'
import type { TallyDb } from '../../tallydb/tally-db.ts'
import type { ChainReport } from '../audit-chain.ts'
import type { OperatorRecord } from '../audit-log.ts'
import { StoreClosedError, StoreInputError, UnknownTokenError } from '../errors.ts'
import { grantKeyOf } from '../../tallydb/bootstrap-hooks.ts'
import { newTokenId, newTokenRecord, tokenRejection, tokenView } from '../token-book.ts'
import { deriveToken, hashToken } from '../token-secret.ts'
import type { LocalNode, MerchantStore } from '../types.ts'
import { cadreSecret } from './cadre-secret.ts'
import type { CadreNote } from './notify.ts'
import { applyCadreNote, reloadMirror } from './pg-mirror.ts'
import type { CadreMirror } from './pg-mirror.ts'
import { PgApprovals } from './pg-approvals.ts'
import { PgAudit } from './pg-audit.ts'
import { PgHooks } from './pg-hooks.ts'
import { CadreListener } from './pg-listener.ts'
import { PgNodes } from './pg-nodes.ts'
import { PgNotifier } from './pg-notifier.ts'
import { pendingTalliesOf, timeOutStaleApprovals, verdictOf } from './pg-settlement.ts'
import type { CadreStoreEvents, PgStoreParts } from './pg-store-parts.ts'
import { PgTallies, nodeTallyView } from './pg-tallies.ts'
import { PgTallyDocs } from './pg-tally-docs.ts'
import { PgTokens } from './pg-tokens.ts'

export { nodeTallyView }
export type { CadreStoreEvents, PgStoreParts }

/** The PostgreSQL-backed MerchantStore of one cadre node. Open with openPgStore. */
export class PgMerchantStore extends TypedEventEmitter<CadreStoreEvents> implements MerchantStore {
  readonly dataDir: string
  /** This node's name in the cadre (on tallies, approvals and audit events). */
  readonly node: string
  readonly schema: string
  #pool: Pool
  #listener: CadreListener
  #secret: Buffer
  /** grantKeyOf(#secret), derived once: an HMAC per provisioned tally was measurable in a rush. */
  #grantKey: Buffer
  #now: () => number
  #tokens: PgTokens
  #tallies: PgTallies
  #approvals: PgApprovals
  #audit: PgAudit
  #nodes: PgNodes
  #notifier: PgNotifier
  #hooks: PgHooks
  #staleNodeMs: number
  /** The shared tally database of this node (issue I), when the service attached one. */
  #db: TallyDb | undefined
  /** The tally documents and their index in the database (opened by tallyBackend()). */
  #tallyDocs: PgTallyDocs | undefined
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
    this.#grantKey = grantKeyOf(parts.secret)
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
    this.#hooks = new PgHooks({
      tokens: this.#tokens,
      tallies: this.#tallies,
      approvals: this.#approvals,
      audit: this.#audit,
      now: parts.now,
      grantKey: () => this.grantKey(),
      db: () => this.#db,
      assertOpen: () => this.#assertOpen(),
      closed: () => this.#closed
    })
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

  /** Read tokens, tallies, pending approvals and recent audit events again (and the tally documents' index). */
  async reload(): Promise<void> {
    await reloadMirror(this.#mirror())
    await this.#tallyDocs?.resumed()
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

  /**
   * Issue I on the cadre: the tally documents and their index live in the database, so every node serves
   * every tally's document and merges the others' changes into the documents it holds open.
   */
  async tallyBackend(): Promise<TallyDbBackend> {
    this.#assertOpen()
    this.#tallyDocs ??= await PgTallyDocs.open({
      pool: this.#pool,
      notifier: this.#notifier,
      node: this.node
    })
    return this.#tallyDocs
  }

  /** Issue I: the key of the grants, derived from the cadre's secret, so any node re-derives any grant. */
  grantKey(): Buffer {
    // a copy: a caller that wipes or changes its key cannot change the next tally's grant
    return Buffer.from(this.#grantKey)
  }

  hooks(node: LocalNode): SessionHooks {
    return this.#hooks.for(node)
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
    const changed = await this.#tallies.recover(this.#hooks.createdThisRun(), this.#staleNodeMs)
    await timeOutStaleApprovals(this.#pool, this.#approvals, this.#now(), this.node)
    const pending = changed.filter((t) => (t.status as string) === 'pending').length
    return { abandoned: changed.length - pending, pending }
  }

  /** Tallies of this node waiting for their counterparty's verdict (issue H), oldest first. */
  pendingTallies(): TallyView[] {
    return pendingTalliesOf(this.#tallies, this.node)
  }

  /**
   * Our verdict on `tallyId` for the peer asking (issue H): any node answers for the whole cadre, from
   * its mirror. undefined when that peer is not its counterparty (or no such tally).
   */
  verdictFor(tallyId: string, remotePeerId: string): 'confirmed' | 'abandoned' | 'unsettled' | undefined {
    return verdictOf(this.#tallies, tallyId, remotePeerId)
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
    // a last try for the abandonments an outage held back; whatever is left, the next start recovers
    await this.#hooks.deferred.retry()
    this.#hooks.deferred.close()
    await this.#tokens.settled().catch(() => {})
    await this.#notifier.flush()
    this.#listener.close()
    await this.#pool.end().catch(() => {})
  }

  #mirror(): CadreMirror {
    return {
      pool: this.#pool,
      node: this.node,
      tokens: this.#tokens,
      tallies: this.#tallies,
      approvals: this.#approvals,
      nodes: this.#nodes,
      audit: this.#audit
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError()
  }

  // --- notifications -----------------------------------------------------------------------------

  #onNote(note: CadreNote): void {
    if (note.k === 'tdoc' || note.k === 'tidx') {
      this.#tallyDocs?.note(note)
      return
    }
    applyCadreNote(this.#mirror(), note, (event, node) =>
      this.safeDispatchEvent('remote-session', { detail: { ...event, node } })
    )
  }
}
