/**
 * Tokens whose expiry passes while the console is open: a token's status is derived when its view is made,
 * so without a new view it would stay `active` on every screen until a reload. One timer, for the soonest
 * expiry; when it fires, the tokens that expired get a fresh view pushed like any other token change. A
 * token change looks at that token alone (changed()); only the start reads them all.
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

  /** Reads every token again and arms the timer for the soonest expiry among the active ones (on start). */
  schedule(): void {
    if (this.#stopped) return
    this.#watched.clear()
    for (const t of this.#init.tokens()) {
      if (t.status === 'active' && t.expiresAt !== null) this.#watched.set(t.tokenId, t.expiresAt)
    }
    this.#arm(this.#soonest())
  }

  /**
   * One token changed (created, used, revoked): only it is looked at. Reading every token here made each
   * customer cost a view of every token the merchant has (a customer display mints one per customer).
   */
  changed(view: TokenView): void {
    if (this.#stopped) return
    const before = this.#watched.get(view.tokenId)
    if (view.status === 'active' && view.expiresAt !== null) this.#watched.set(view.tokenId, view.expiresAt)
    else this.#watched.delete(view.tokenId)
    const after = this.#watched.get(view.tokenId)
    // a use that leaves the token active with the same expiry changes nothing
    if (before === after) return
    if (after !== undefined && after < this.#at) this.#arm(after)
    else if (before === this.#at) this.#arm(this.#soonest())
  }

  #soonest(): number {
    let soonest = Number.POSITIVE_INFINITY
    for (const at of this.#watched.values()) if (at < soonest) soonest = at
    return soonest
  }

  #arm(soonest: number): void {
    if (soonest === this.#at && this.#timer !== undefined) return
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#at = soonest
    if (soonest === Number.POSITIVE_INFINITY) return
    // a few ms late rather than early: the status is derived from the clock when the view is made
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, soonest - this.#now()) + 5)
    this.#timer = setTimeout(() => this.#fire(), delay)
    this.#timer.unref?.()
  }

  #fire(): void {
    this.#timer = undefined
    this.#at = Number.POSITIVE_INFINITY
    const now = this.#now()
    for (const [tokenId, at] of this.#watched) {
      if (at > now) continue
      this.#watched.delete(tokenId)
      const fresh = this.#init.token(tokenId)
      if (fresh === undefined) continue
      this.#init.push(fresh)
      // its expiry moved later meanwhile: still watched
      if (fresh.status === 'active' && fresh.expiresAt !== null && fresh.expiresAt > now)
        this.#watched.set(tokenId, fresh.expiresAt)
    }
    // a timer capped at MAX_DELAY_MS fires before its expiry: arm again for what is left
    this.#arm(this.#soonest())
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
