/**
 * Tokens whose expiry passes while the console is open: a token's status is derived when its view is made,
 * so without a new view it would stay `active` on every screen until a reload. One timer, for the soonest
 * expiry; when it fires, the tokens that expired get a fresh view pushed like any other token change.
 */
import type { TokenView } from '../views/console-views.ts'

/** setTimeout's longest delay (about 24.8 days); a later expiry is re-armed when it fires. */
const MAX_DELAY_MS = 2 ** 31 - 1

/** What TokenExpiry reads and tells. */
export interface TokenExpiryInit {
  /** Every token as the store shows it now. */
  tokens(): TokenView[]
  /** A token's view as of now (its status derived again). */
  token(tokenId: string): TokenView | undefined
  push(view: TokenView): void
  now?: () => number
}

/** Pushes a token's new view when its expiry passes. */
export class TokenExpiry {
  readonly #init: TokenExpiryInit
  readonly #now: () => number
  #timer: ReturnType<typeof setTimeout> | undefined
  #at = Number.POSITIVE_INFINITY
  /** Active tokens with an expiry, as of the last schedule: their view says `active` until then. */
  #watched = new Map<string, number>()
  #stopped = false

  constructor(init: TokenExpiryInit) {
    this.#init = init
    this.#now = init.now ?? Date.now
  }

  /** Arms the timer for the soonest expiry among active tokens (call on start and on every token change). */
  schedule(): void {
    if (this.#stopped) return
    const now = this.#now()
    let soonest = Number.POSITIVE_INFINITY
    this.#watched.clear()
    for (const t of this.#init.tokens()) {
      if (t.status !== 'active' || t.expiresAt === null) continue
      this.#watched.set(t.tokenId, t.expiresAt)
      if (t.expiresAt < soonest) soonest = t.expiresAt
    }
    if (soonest === this.#at && this.#timer !== undefined) return
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#at = soonest
    if (soonest === Number.POSITIVE_INFINITY) return
    // a few ms late rather than early: the status is derived from the clock when the view is made
    this.#timer = setTimeout(() => this.#fire(), Math.min(MAX_DELAY_MS, Math.max(0, soonest - now) + 5))
    this.#timer.unref?.()
  }

  #fire(): void {
    this.#timer = undefined
    this.#at = Number.POSITIVE_INFINITY
    const now = this.#now()
    for (const [tokenId, at] of this.#watched) {
      if (at > now) continue
      const fresh = this.#init.token(tokenId)
      if (fresh !== undefined) this.#init.push(fresh)
    }
    this.schedule()
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
