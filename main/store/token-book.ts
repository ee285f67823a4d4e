/**
 * Tokens (and settings) in tokens.json (0600) through lowdb 7 with a durable adapter (temp + fsync +
 * rename + folder fsync): a small file, fine to rewrite whole, because it holds only the tokens still in
 * play. One Low instance per file; every change mutates `db.data` and calls `db.write()` with no await in
 * between (see notes/stack.md), so concurrent changes are never lost. A failed write rolls the change back.
 *
 * Archived tokens live in tokens-archive.jsonl, an append-only journal (one line per archived token, a
 * later line of the same token wins): a customer display archives a token per customer, and with them in
 * tokens.json every customer rewrote a file that grew with every customer before (docs/performance.md,
 * K "Seventeenth pass"). An archive is one durable append; tokens.json drops the token with its next
 * write, and a token found in both after a crash is the archive's.
 */
import { randomBytes } from 'node:crypto'
import { chmod } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Low } from 'lowdb'
import type {
  ApprovalPolicy,
  CreateTokenInput,
  TokenMode,
  TokenStatus,
  TokenUses,
  TokenView
} from '../views/console-views.ts'
import type { PartyRole, ReasonCode } from '../bootstrap/types.ts'
import { DurableJSONFile } from './durable-file.ts'
import { JournalCorruptError, StoreCorruptError, StoreInputError, toWriteError } from './errors.ts'
import { openJournal } from './journal.ts'
import type { Journal, ScannedLine } from './journal.ts'
import { hashToken, sameHash } from './token-secret.ts'
import { checkTerms } from '../tallydb/tally-document.ts'
import type { TallyTerms } from '../tallydb/tally-document.ts'

/** Longest an informational change (an unlimited token's use count) waits before it is written. */
export const LAZY_WRITE_MS = 1_000

/** The archive of a data folder's tokens, beside tokens.json. */
export const TOKEN_ARCHIVE_FILE = 'tokens-archive.jsonl'

/** Default wait for an operator's decision. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 120_000

/** A token as stored: never the token text, only its sha256. */
export interface TokenRecord {
  tokenId: string
  tokenHash: string
  label: string
  role: PartyRole
  uses: TokenUses
  /** Uses consumed, including those held by sessions still running (given back by release). */
  used: number
  expiresAt: number | null
  revoked: boolean
  identityRequirements: string[]
  approval: ApprovalPolicy
  approvalTimeoutMs: number
  createdAt: number
  /** Hidden from the default token list (revoked, used-up or expired tokens only). */
  archived?: boolean
  /** `per-customer`: one of a customer display's series of single-use tokens. */
  mode?: TokenMode
  /** The customer display a `per-customer` token belongs to. */
  displayId?: string
  /** Standing terms every tally bootstrapped from this token starts with. */
  terms?: TallyTerms
}

/** The shape of tokens.json. */
export interface TokensFile {
  version: 1
  settings: Record<string, unknown>
  tokens: Record<string, TokenRecord>
}

/** The token table of one store. */
export class TokenBook {
  readonly path: string
  #db: Low<TokensFile>
  #archive: Journal
  /** Archived tokens, out of tokens.json: still found, listed and shown, never rewritten. */
  #archived: Map<string, TokenRecord>
  #archiving = new Map<string, Promise<void>>()
  #byHash = new Map<string, string>()
  #writing: Promise<void> = Promise.resolve()
  #lazyTimer: ReturnType<typeof setTimeout> | undefined

  private constructor(
    path: string,
    db: Low<TokensFile>,
    archive: Journal,
    archived: Map<string, TokenRecord>
  ) {
    this.path = path
    this.#db = db
    this.#archive = archive
    this.#archived = archived
    for (const t of archived.values()) this.#byHash.set(t.tokenHash, t.tokenId)
    for (const t of Object.values(db.data.tokens)) this.#byHash.set(t.tokenHash, t.tokenId)
  }

  /** Read tokens.json at `path` (absent = empty) and the archive beside it. */
  static async open(path: string): Promise<TokenBook> {
    // durable writes (file and folder fsync'ed): lowdb's own JSONFile renames without fsync
    const db = new Low<TokensFile>(new DurableJSONFile<TokensFile>(path), {
      version: 1,
      settings: {},
      tokens: {}
    })
    // private whoever created it (older versions wrote 0644)
    await chmod(path, 0o600).catch(() => {})
    try {
      await db.read()
    } catch (err) {
      throw new StoreCorruptError(
        path,
        err instanceof SyntaxError ? 'not valid JSON' : String((err as NodeJS.ErrnoException).code),
        {
          cause: err
        }
      )
    }
    const data = db.data as Partial<TokensFile> | null
    if (
      data === null ||
      typeof data !== 'object' ||
      typeof data.tokens !== 'object' ||
      data.tokens === null
    ) {
      throw new StoreCorruptError(path, 'no tokens table')
    }
    data.settings ??= {}
    const archivePath = join(dirname(path), TOKEN_ARCHIVE_FILE)
    const archived = new Map<string, TokenRecord>()
    const onLine = (line: ScannedLine): void => {
      if (line.damaged) throw new JournalCorruptError(archivePath, line.number, 'checksum mismatch')
      const record = parseArchived(line.text)
      if (record === undefined) throw new JournalCorruptError(archivePath, line.number, 'not a token record')
      archived.set(record.tokenId, record)
    }
    const { journal } = await openJournal(archivePath, { onLine })
    const book = new TokenBook(path, db, journal, archived)
    await book.#settleArchive()
    return book
  }

  /**
   * A token in both files (a crash came between the archive's append and the rewrite) is the archive's;
   * one archived in tokens.json by an older version moves to the archive. Either way tokens.json is
   * rewritten; if that fails, the next write does it.
   */
  async #settleArchive(): Promise<void> {
    const tokens = this.#db.data.tokens
    const moving = Object.values(tokens).filter((t) => t.archived === true && !this.#archived.has(t.tokenId))
    let changed = false
    if (moving.length > 0) {
      try {
        await this.#archive.append(moving.map((t) => JSON.stringify(t)))
        for (const t of moving) this.#archived.set(t.tokenId, t)
      } catch {
        // the disk refuses: they stay in tokens.json, archived there as before
      }
    }
    for (const id of Object.keys(tokens)) {
      const archived = this.#archived.get(id)
      if (archived === undefined) continue
      delete tokens[id]
      changed = true
    }
    if (changed) await this.#db.write().catch(() => {})
  }

  get(tokenId: string): TokenRecord | undefined {
    const tokens = this.#db.data.tokens
    return Object.hasOwn(tokens, tokenId) ? tokens[tokenId] : this.#archived.get(tokenId)
  }

  /** The token whose text is `token`, compared in constant time; undefined if none. */
  find(token: string): TokenRecord | undefined {
    const hash = hashToken(token)
    const tokenId = this.#byHash.get(hash)
    const record = tokenId === undefined ? undefined : this.get(tokenId)
    return record !== undefined && sameHash(record.tokenHash, hash) ? record : undefined
  }

  /** Every token, archived ones too, newest first. */
  list(): TokenRecord[] {
    return [...Object.values(this.#db.data.tokens), ...this.#archived.values()].sort(
      (a, b) => b.createdAt - a.createdAt
    )
  }

  /** Add a token whose text hashes to `tokenHash`; durable on return. */
  async add(input: CreateTokenInput, tokenId: string, tokenHash: string, now: number): Promise<TokenRecord> {
    const record = newTokenRecord(input, tokenId, tokenHash, now)
    await this.change(
      () => {
        this.#db.data.tokens[tokenId] = record
        this.#byHash.set(tokenHash, tokenId)
      },
      () => {
        delete this.#db.data.tokens[tokenId]
        this.#byHash.delete(tokenHash)
      }
    )
    return record
  }

  /**
   * Move a token to the archive; durable on return (one append, whatever the number of tokens). A change
   * of the token while its line was written is written after it, so the archive holds the last one.
   */
  async archive(record: TokenRecord): Promise<void> {
    if (this.#archived.get(record.tokenId) === record) return
    const running = this.#archiving.get(record.tokenId)
    if (running !== undefined) return running
    const run = (async () => {
      let line = JSON.stringify({ ...record, archived: true })
      try {
        await this.#archive.append([line])
      } catch (err) {
        throw toWriteError(err, this.#archive.path)
      }
      record.archived = true
      delete this.#db.data.tokens[record.tokenId]
      this.#archived.set(record.tokenId, record)
      // tokens.json drops it with its next write: until then both hold it, and the archive wins
      this.changeLazily(() => {})
      for (let now = JSON.stringify(record); now !== line; now = JSON.stringify(record)) {
        line = now
        await this.#archive.append([line]).catch(() => {})
      }
    })()
    this.#archiving.set(record.tokenId, run)
    try {
      await run
    } finally {
      this.#archiving.delete(record.tokenId)
    }
  }

  /**
   * Apply `apply` to the in-memory data and write the file, with no await between the two; on a write
   * failure run `undo` and throw StoreWriteError. With `record` archived, its line goes to the archive.
   */
  async change(apply: () => void, undo: () => void, record?: TokenRecord): Promise<void> {
    apply()
    const archived = record !== undefined && this.#archived.get(record.tokenId) === record
    const write = archived ? this.#archive.append([JSON.stringify(record)]) : this.#db.write()
    if (!archived) this.#writing = write.catch(() => {})
    try {
      await write
    } catch (err) {
      undo()
      throw toWriteError(err, archived ? this.#archive.path : this.path)
    }
  }

  /**
   * Apply a change that gates nothing (an unlimited token's use count) in memory now and write it within
   * LAZY_WRITE_MS, coalesced with every other change meanwhile: a rush on one token rewrites the file
   * about once a second instead of once per session. settled() writes it at once. Never throws. An
   * archived `record` is appended at once instead (archived tokens serve no rush).
   */
  changeLazily(apply: () => void, record?: TokenRecord): void {
    apply()
    if (record !== undefined && this.#archived.get(record.tokenId) === record) {
      this.#archive.append([JSON.stringify(record)]).catch(() => {})
      return
    }
    if (this.#lazyTimer !== undefined) return
    this.#lazyTimer = setTimeout(() => this.#writeLazy(), LAZY_WRITE_MS)
    this.#lazyTimer.unref()
  }

  /** Write pending lazy changes now and wait for writes in flight. */
  async settled(): Promise<void> {
    if (this.#lazyTimer !== undefined) this.#writeLazy()
    await Promise.all([this.#writing, ...this.#archiving.values()].map((p) => p.catch(() => {})))
    await this.#archive.flush().catch(() => {})
  }

  /** Write what is pending, then close the archive. */
  async close(): Promise<void> {
    await this.settled()
    await this.#archive.close()
  }

  #writeLazy(): void {
    clearTimeout(this.#lazyTimer)
    this.#lazyTimer = undefined
    // a failure keeps the count in memory; the next write of the file carries it
    this.#writing = this.#db.write().catch(() => {})
  }
}

/** An archive line's token, or undefined when it is not one. */
function parseArchived(text: string): TokenRecord | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (value === null || typeof value !== 'object') return undefined
  const t = value as Partial<TokenRecord>
  if (typeof t.tokenId !== 'string' || typeof t.tokenHash !== 'string' || typeof t.createdAt !== 'number')
    return undefined
  return { ...(t as TokenRecord), archived: true }
}

/** Fresh token id: short, random, public. */
export function newTokenId(): string {
  return `tk_${randomBytes(9).toString('base64url')}`
}

/** Why this token cannot start a session now, or undefined if it can. Order: revoked > expired > used-up. */
export function tokenRejection(t: TokenRecord, now: number): ReasonCode | undefined {
  if (t.revoked) return 'token-revoked'
  if (t.expiresAt !== null && now >= t.expiresAt) return 'token-expired'
  if (t.uses !== 'unlimited' && t.used >= t.uses) return 'token-used'
  return undefined
}

/** The listing of a token (never its hash). */
export function tokenView(t: TokenRecord, now: number): TokenView {
  const reason = tokenRejection(t, now)
  const status: TokenStatus =
    reason === 'token-revoked'
      ? 'revoked'
      : reason === 'token-expired'
        ? 'expired'
        : reason === 'token-used'
          ? 'used-up'
          : 'active'
  return {
    tokenId: t.tokenId,
    label: t.label,
    role: t.role,
    uses: t.uses,
    used: t.used,
    expiresAt: t.expiresAt,
    revoked: t.revoked,
    status,
    identityRequirements: [...t.identityRequirements],
    approval: t.approval,
    approvalTimeoutMs: t.approvalTimeoutMs,
    createdAt: t.createdAt,
    ...(t.archived === true ? { archived: true } : {}),
    ...(t.mode === undefined ? {} : { mode: t.mode }),
    ...(t.displayId === undefined ? {} : { displayId: t.displayId }),
    ...(t.terms === undefined ? {} : { terms: { ...t.terms } })
  }
}

const FIELD = /^[a-zA-Z][a-zA-Z0-9_-]{0,31}$/

/** A new token's record from its input (checked): shared by the lowdb and PostgreSQL stores. */
export function newTokenRecord(
  input: CreateTokenInput & { displayId?: string },
  tokenId: string,
  tokenHash: string,
  now: number
): TokenRecord {
  if (input === null || typeof input !== 'object') throw new StoreInputError('token input must be an object')
  const { role, label = '', uses = 1, expiresInMs, identityRequirements = [], approval = 'auto' } = input
  const approvalTimeoutMs = input.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS
  if (role !== 'stock' && role !== 'foil') throw new StoreInputError('role must be stock or foil')
  if (typeof label !== 'string' || label.length > 200)
    throw new StoreInputError('label must be text of at most 200 characters')
  if (uses !== 'unlimited' && !(Number.isSafeInteger(uses) && uses >= 1))
    throw new StoreInputError('uses must be a whole number ≥ 1 or "unlimited"')
  if (expiresInMs !== undefined && !(Number.isFinite(expiresInMs) && expiresInMs > 0))
    throw new StoreInputError('expiresInMs must be a positive number')
  if (
    !Array.isArray(identityRequirements) ||
    identityRequirements.length > 32 ||
    !identityRequirements.every((f) => typeof f === 'string' && FIELD.test(f))
  ) {
    throw new StoreInputError('identity requirements must be short field names')
  }
  if (approval !== 'auto' && approval !== 'operator')
    throw new StoreInputError('approval must be auto or operator')
  if (!(Number.isFinite(approvalTimeoutMs) && approvalTimeoutMs > 0))
    throw new StoreInputError('approvalTimeoutMs must be a positive number')
  let terms: TallyTerms | undefined
  try {
    terms = input.terms === undefined ? undefined : checkTerms(input.terms)
  } catch (err) {
    throw new StoreInputError(`terms: ${(err as Error).message}`)
  }
  const { mode } = input
  if (mode !== undefined && mode !== 'single' && mode !== 'per-customer')
    throw new StoreInputError('mode must be single or per-customer')
  const perCustomer = mode === 'per-customer'
  const displayId =
    typeof input.displayId === 'string' && input.displayId !== '' ? input.displayId : newTokenId()
  return {
    tokenId,
    tokenHash,
    label,
    role,
    // a customer display's token serves one customer; the next one is minted for the next
    uses: perCustomer ? 1 : uses,
    used: 0,
    expiresAt: expiresInMs === undefined ? null : now + expiresInMs,
    revoked: false,
    identityRequirements: [...new Set(identityRequirements)],
    approval,
    approvalTimeoutMs,
    createdAt: now,
    ...(perCustomer ? { mode: 'per-customer' as const, displayId } : {}),
    ...(terms === undefined || Object.keys(terms).length === 0 ? {} : { terms })
  }
}
