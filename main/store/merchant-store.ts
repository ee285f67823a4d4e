/**
 * The merchant store of one data folder and the SessionHooks it backs.
 *
 * Layout of DIR (one process owns it through DIR/.lock):
 * - `format.json`   the folder's data format (folder-format.ts): a newer one than ours is refused.
 * - `secret`        32 random bytes (0600); token text = base64url(HMAC-SHA256(secret, tokenId)).
 * - `tokens.json`   lowdb 7: tokens in play (sha256 of the text only) and settings; small, rewritten whole.
 * - `tokens-archive.jsonl` append-only journal of archived tokens (token-book.ts): never rewritten.
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
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { TypedEventEmitter } from 'main-event'
import type {
  ApprovalView,
  CreateTokenInput,
  Decision,
  DecisionResult,
  TallyView,
  TokenView
} from '../views/console-views.ts'
import type { AuditQuery, PageQuery } from '../views/console-queries.ts'
import type {
  DbConnectionInfo,
  DraftTally,
  SessionEvent,
  SessionHooks,
  TallySettlement
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
import { claimFolderFormat, readFolderFormat } from './folder-format.ts'
import { pageOf } from './paging.ts'
import type { FolderLock } from './lock.ts'
import { TallyBook, tallyView } from './tally-book.ts'
import { TallyLedger } from './tally-ledger.ts'
import { StoreHooks } from './store-hooks.ts'
import type { TallyRecord } from './tally-book.ts'
import { TokenBook, newTokenId, tokenRejection, tokenView } from './token-book.ts'
import { deriveToken, hashToken, loadSecret } from './token-secret.ts'
import { grantKeyOf } from '../tallydb/bootstrap-hooks.ts'
import type { TallyDb } from '../tallydb/tally-db.ts'
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
  /** grantKeyOf(#secret), derived once: an HMAC per provisioned tally was measurable in a rush. */
  #grantKey: Buffer
  #tokens: TokenBook
  #tallies: TallyBook
  #audit: AuditLog
  #approvals: ApprovalDesk
  #disk: DiskGuard
  #now: () => number
  #ledger: TallyLedger
  #hooks: StoreHooks
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
    this.#grantKey = grantKeyOf(parts.secret)
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
    this.#ledger = new TallyLedger({
      tallies: this.#tallies,
      audit: this.#audit,
      events: this,
      now: this.#now
    })
    this.#hooks = new StoreHooks({
      tokens: this.#tokens,
      tallies: this.#tallies,
      ledger: this.#ledger,
      audit: this.#audit,
      approvals: this.#approvals,
      disk: this.#disk,
      events: this,
      now: this.#now,
      db: () => this.#db,
      grantKey: () => this.grantKey(),
      isClosed: () => this.#closed
    })
  }

  /** Additive: the shared tally database the hooks create and open documents in. */
  attachTallyDb(db: TallyDb | undefined): void {
    this.#db = db
  }

  /** Additive: the key of the tally database's grants, derived from the node secret (never stored). */
  grantKey(): Buffer {
    // a copy: a caller that wipes or changes its key cannot change the next tally's grant
    return Buffer.from(this.#grantKey)
  }

  hooks(node: LocalNode): SessionHooks {
    return this.#hooks.hooks(node)
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
        },
        record
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
    if (record.archived !== true) await this.#tokens.archive(record)
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
      if (r.status !== 'draft' || this.#ledger.createdThisRun.has(r.tallyId)) continue
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
    // a draft still being written is a live session's: unsettled, as it will be once on disk
    const r = this.#tallies.get(tallyId) ?? this.#ledger.recording(tallyId)
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
    await this.#ledger.settle(tallyId, verdict)
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
      await this.#ledger.abandonHeld()
      await Promise.allSettled([this.#tokens.close(), this.#tallies.close(), this.#audit.close()])
    } finally {
      await this.#lock.release()
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError()
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
    // before any part reads or upgrades its files: a newer version's folder is left as it is
    await readFolderFormat(dir)
    const secret = await loadSecret(dir)
    const tokens = await TokenBook.open(join(dir, 'tokens.json'))
    opened.push(tokens)
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
    opened.push(audit)
    // once every part has read (and upgraded) its files: an older version's folder is ours from now on
    await claimFolderFormat(dir)
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
