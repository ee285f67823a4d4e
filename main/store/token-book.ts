/**
 * Tokens (and settings) in tokens.json (0600) through lowdb 7 with a durable adapter (temp + fsync +
 * rename + folder fsync): a small file, fine to rewrite whole. One Low
 * instance per file; every change mutates `db.data` and calls `db.write()` with no await in between
 * (see notes/stack.md), so concurrent changes are never lost. A failed write rolls the change back.
 */
import { randomBytes } from 'node:crypto'
import { chmod } from 'node:fs/promises'
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
import { StoreCorruptError, StoreInputError, toWriteError } from './errors.ts'
import { hashToken, sameHash } from './token-secret.ts'
import { checkTerms } from '../tallydb/tally-document.ts'
import type { TallyTerms } from '../tallydb/tally-document.ts'

/** Longest an informational change (an unlimited token's use count) waits before it is written. */
export const LAZY_WRITE_MS = 1_000

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
  #byHash = new Map<string, string>()
  #writing: Promise<void> = Promise.resolve()
  #lazyTimer: ReturnType<typeof setTimeout> | undefined

  private constructor(path: string, db: Low<TokensFile>) {
    this.path = path
    this.#db = db
    for (const t of Object.values(db.data.tokens)) this.#byHash.set(t.tokenHash, t.tokenId)
  }

  /** Read tokens.json at `path` (absent = empty). */
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
    return new TokenBook(path, db)
  }

  get(tokenId: string): TokenRecord | undefined {
    const tokens = this.#db.data.tokens
    return Object.hasOwn(tokens, tokenId) ? tokens[tokenId] : undefined
  }

  /** The token whose text is `token`, compared in constant time; undefined if none. */
  find(token: string): TokenRecord | undefined {
    const hash = hashToken(token)
    const tokenId = this.#byHash.get(hash)
    const record = tokenId === undefined ? undefined : this.get(tokenId)
    return record !== undefined && sameHash(record.tokenHash, hash) ? record : undefined
  }

  list(): TokenRecord[] {
    return Object.values(this.#db.data.tokens).sort((a, b) => b.createdAt - a.createdAt)
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
   * Apply `apply` to the in-memory data and write the file, with no await between the two; on a write
   * failure run `undo` and throw StoreWriteError.
   */
  async change(apply: () => void, undo: () => void): Promise<void> {
    apply()
    const write = this.#db.write()
    this.#writing = write.catch(() => {})
    try {
      await write
    } catch (err) {
      undo()
      throw toWriteError(err, this.path)
    }
  }

  /**
   * Apply a change that gates nothing (an unlimited token's use count) in memory now and write it within
   * LAZY_WRITE_MS, coalesced with every other change meanwhile: a rush on one token rewrites the file
   * about once a second instead of once per session. settled() writes it at once. Never throws.
   */
  changeLazily(apply: () => void): void {
    apply()
    if (this.#lazyTimer !== undefined) return
    this.#lazyTimer = setTimeout(() => this.#writeLazy(), LAZY_WRITE_MS)
    this.#lazyTimer.unref()
  }

  /** Write pending lazy changes now and wait for writes in flight. */
  async settled(): Promise<void> {
    if (this.#lazyTimer !== undefined) this.#writeLazy()
    await this.#writing
  }

  #writeLazy(): void {
    clearTimeout(this.#lazyTimer)
    this.#lazyTimer = undefined
    // a failure keeps the count in memory; the next write of the file carries it
    this.#writing = this.#db.write().catch(() => {})
  }
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
