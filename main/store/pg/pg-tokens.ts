/**
 * The cadre's tokens: the `tokens` table, where every use of a limited token, give-back and revocation
 * is one statement (checked and changed together, so it holds across nodes), and this node's mirror of
 * it, kept current by the rows each change announces (`rev` keeps the newest, whatever the order).
 *
 * An unlimited token's use count gates nothing (as in the lowdb store): a use is checked against the
 * mirror, with no statement at all, and the count is added lazily, once a second at most per node, so a
 * rush on one unlimited token does not queue every session behind one row lock and its commit. A
 * revocation the mirror has not heard of yet still stops such a session: confirming its tally is one
 * statement that checks the token (PgTallies.settle), so no tally is confirmed once the revocation is
 * committed, whichever node serves it.
 */
import type { Pool } from 'pg'
import type { TokenView } from '../../views/console-views.ts'
import type { ReasonCode } from '../../bootstrap/types.ts'
import { LAZY_WRITE_MS, tokenRejection, tokenView } from '../token-book.ts'
import type { TokenRecord } from '../token-book.ts'
import { hashToken } from '../token-secret.ts'
import type { PgNotifier } from './pg-notifier.ts'
import { tokenFromRow, tokenParams } from './pg-rows.ts'
import type { TokenRow } from './pg-rows.ts'

// The statements every bootstrap runs are named (pg prepares each once per pooled connection), so the
// server parses and plans them once instead of at every bootstrap, as in pg-tallies.ts and pg-audit.ts.
// They name their columns: a prepared `*` fails once another cadre node's migration adds a column.
const TOKEN_COLUMNS = `token_id, token_hash, label, role, uses, used, expires_at, revoked, identity_requirements,
  approval, approval_timeout_ms, created_at, extra, rev`
const TOKEN_ROW = `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE token_id = $1`

/** What the token table needs from its store. */
export interface PgTokensInit {
  pool: Pool
  notifier: PgNotifier
  node: string
  now: () => number
  /** A token changed (here or on another node): the console's event. */
  changed(view: TokenView): void
}

/** The token table of a cadre node. */
export class PgTokens {
  #init: PgTokensInit
  #tokens = new Map<string, { record: TokenRecord; rev: number }>()
  #byHash = new Map<string, string>()
  /** Uses of unlimited tokens counted here and not written yet (a release subtracts). */
  #lazy = new Map<string, number>()
  #lazyTimer: ReturnType<typeof setTimeout> | undefined
  #lazyWriting: Promise<void> = Promise.resolve()

  constructor(init: PgTokensInit) {
    this.#init = init
  }

  /** The token with this node's unwritten uses counted in. */
  get(tokenId: string): TokenRecord | undefined {
    const record = this.#tokens.get(tokenId)?.record
    const lazy = this.#lazy.get(tokenId) ?? 0
    return record === undefined || lazy === 0 ? record : { ...record, used: Math.max(0, record.used + lazy) }
  }

  has(tokenId: string): boolean {
    return this.#tokens.has(tokenId)
  }

  /** Every token, newest first. */
  list(): TokenRecord[] {
    return [...this.#tokens.keys()]
      .map((id) => this.get(id) as TokenRecord)
      .sort((a, b) => b.createdAt - a.createdAt)
  }

  /** The token of `text`: from the mirror, else (created a moment ago on another node) from the table. */
  async find(text: string): Promise<TokenRecord | undefined> {
    const hash = hashToken(text)
    const id = this.#byHash.get(hash)
    if (id !== undefined) return this.get(id)
    const res = await this.#init.pool.query<TokenRow>('SELECT * FROM tokens WHERE token_hash = $1', [hash])
    const row = res.rows[0]
    if (row === undefined) return undefined
    this.apply(row, false)
    return this.get(row.token_id)
  }

  async add(record: TokenRecord): Promise<TokenView> {
    const res = await this.#init.pool.query<TokenRow>(
      `INSERT INTO tokens (token_id, token_hash, label, role, uses, used, expires_at, revoked,
         identity_requirements, approval, approval_timeout_ms, created_at, extra)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *`,
      tokenParams(record)
    )
    return this.#changed(res.rows[0] as TokenRow)
  }

  /** Revoke for the whole cadre; undefined when there is no such token. */
  async revoke(tokenId: string): Promise<TokenView | undefined> {
    const res = await this.#init.pool.query<TokenRow>(
      'UPDATE tokens SET revoked = true, rev = rev + 1 WHERE token_id = $1 RETURNING *',
      [tokenId]
    )
    const row = res.rows[0]
    return row === undefined ? undefined : this.#changed(row)
  }

  /** Hide a token from the default list (the caller checks it may be); undefined when there is none. */
  async archive(tokenId: string): Promise<TokenView | undefined> {
    const res = await this.#init.pool.query<TokenRow>(
      `UPDATE tokens SET extra = extra || '{"archived": true}'::jsonb, rev = rev + 1
       WHERE token_id = $1 RETURNING *`,
      [tokenId]
    )
    const row = res.rows[0]
    return row === undefined ? undefined : this.#changed(row)
  }

  /**
   * Take one use; the reason it cannot when it cannot. A limited token: one statement, whichever node
   * runs it (of N racing sessions exactly `uses` win). An unlimited one: the mirror, no statement (a
   * revocation it has not heard of yet fails the session at its confirmation, see above).
   */
  async use(tokenId: string): Promise<ReasonCode | undefined> {
    const { pool, now } = this.#init
    const mirrored = this.#tokens.get(tokenId)?.record
    if (mirrored?.uses === 'unlimited') {
      const reason = tokenRejection(mirrored, now())
      if (reason === undefined) this.#countLazily(tokenId, 1)
      return reason
    }
    const res = await pool.query<TokenRow>({
      name: 'taleus-token-use',
      text: `UPDATE tokens SET used = used + 1, rev = rev + 1
       WHERE token_id = $1 AND NOT revoked AND (uses IS NULL OR used < uses)
         AND (expires_at IS NULL OR expires_at > $2)
       RETURNING ${TOKEN_COLUMNS}`,
      values: [tokenId, now()]
    })
    const row = res.rows[0]
    if (row !== undefined) {
      this.#changed(row)
      return undefined
    }
    const current = (
      await pool.query<TokenRow>({ name: 'taleus-token-row', text: TOKEN_ROW, values: [tokenId] })
    ).rows[0]
    if (current === undefined) return 'invalid-token'
    this.apply(current, false)
    return tokenRejection(tokenFromRow(current), now()) ?? 'token-used'
  }

  /** Give one use back (the caller makes sure it holds one). */
  async release(tokenId: string): Promise<void> {
    if (this.#tokens.get(tokenId)?.record.uses === 'unlimited') {
      this.#countLazily(tokenId, -1)
      return
    }
    const res = await this.#init.pool.query<TokenRow>(
      'UPDATE tokens SET used = greatest(used - 1, 0), rev = rev + 1 WHERE token_id = $1 RETURNING *',
      [tokenId]
    )
    if (res.rows[0] !== undefined) this.#changed(res.rows[0])
  }

  /** Keep the newest revision of a row; `announce`: raise the console's event when it changed anything. */
  apply(row: TokenRow, announce: boolean): TokenView {
    const rev = Number(row.rev)
    const current = this.#tokens.get(row.token_id)
    const newer = current === undefined || current.rev < rev
    if (newer) {
      const record = tokenFromRow(row)
      this.#tokens.set(record.tokenId, { record, rev })
      this.#byHash.set(record.tokenHash, record.tokenId)
    }
    const view = tokenView(this.get(row.token_id) as TokenRecord, this.#init.now())
    if (announce && newer) this.#init.changed(view)
    return view
  }

  /** Read the whole table into the mirror (at start, and after a lost notification connection). */
  async load(): Promise<void> {
    const res = await this.#init.pool.query<TokenRow>('SELECT * FROM tokens')
    for (const row of res.rows) this.apply(row, true)
  }

  /** Write the unwritten use counts now and wait for it (close). */
  async settled(): Promise<void> {
    if (this.#lazyTimer !== undefined) this.#writeLazy()
    await this.#lazyWriting
  }

  /** A change this node made: into the mirror, to the console, and to the other nodes. */
  #changed(row: TokenRow): TokenView {
    const view = this.apply(row, true)
    this.#init.notifier.send(JSON.stringify({ k: 'token', n: this.#init.node, row }))
    return view
  }

  #countLazily(tokenId: string, delta: number): void {
    this.#lazy.set(tokenId, (this.#lazy.get(tokenId) ?? 0) + delta)
    const record = this.get(tokenId)
    if (record !== undefined) this.#init.changed(tokenView(record, this.#init.now()))
    if (this.#lazyTimer !== undefined) return
    this.#lazyTimer = setTimeout(() => this.#writeLazy(), LAZY_WRITE_MS)
    this.#lazyTimer.unref()
  }

  #writeLazy(): void {
    clearTimeout(this.#lazyTimer)
    this.#lazyTimer = undefined
    const counts = [...this.#lazy.entries()].filter(([, n]) => n !== 0)
    this.#lazyWriting = this.#lazyWriting.then(async () => {
      for (const [tokenId, delta] of counts) {
        try {
          const res = await this.#init.pool.query<TokenRow>(
            'UPDATE tokens SET used = greatest(used + $2, 0), rev = rev + 1 WHERE token_id = $1 RETURNING *',
            [tokenId, delta]
          )
          // written: the row now holds them (a failure keeps them for the next write)
          this.#lazy.set(tokenId, (this.#lazy.get(tokenId) ?? 0) - delta)
          if (res.rows[0] !== undefined) this.#changed(res.rows[0])
        } catch {
          if (this.#lazyTimer === undefined) {
            this.#lazyTimer = setTimeout(() => this.#writeLazy(), LAZY_WRITE_MS)
            this.#lazyTimer.unref()
          }
        }
      }
    })
  }
}
