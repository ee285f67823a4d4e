/** TokenExpiry on its own: one timer for the soonest expiry, a token change looked at alone. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { TokenExpiry } from '../../main/service/token-expiry.ts'
import type { TokenView } from '../../main/views/console-views.ts'

const view = (tokenId: string, expiresAt: number | null, over: Partial<TokenView> = {}): TokenView => ({
  tokenId,
  label: tokenId,
  role: 'stock',
  uses: 'unlimited',
  used: 0,
  expiresAt,
  revoked: false,
  status: 'active',
  identityRequirements: [],
  approval: 'auto',
  approvalTimeoutMs: 60_000,
  createdAt: 0,
  ...over
})

describe('TokenExpiry', () => {
  let tokens: Map<string, TokenView>
  let pushed: string[]
  let reads: number
  let expiry: TokenExpiry
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 })
    tokens = new Map()
    pushed = []
    reads = 0
    const current = (t: TokenView): TokenView =>
      t.expiresAt !== null && t.expiresAt <= Date.now() ? { ...t, status: 'expired' } : t
    expiry = new TokenExpiry({
      tokens: () => {
        reads++
        return [...tokens.values()].map(current)
      },
      token: (id) => {
        const t = tokens.get(id)
        return t === undefined ? undefined : current(t)
      },
      push: (t) => pushed.push(`${t.tokenId}:${t.status}`)
    })
  })
  afterEach(() => {
    expiry.stop()
    vi.useRealTimers()
  })

  it('reads every token at start only: a use, a new token or a revoke is looked at alone', () => {
    tokens.set('a', view('a', 1000))
    tokens.set('b', view('b', 5000))
    expiry.schedule()
    expect(reads).toBe(1)
    for (let i = 1; i <= 100; i++) expiry.changed(view('a', 1000, { used: i }))
    tokens.set('c', view('c', 500))
    expiry.changed(view('c', 500))
    expect(reads).toBe(1)

    vi.advanceTimersByTime(510)
    expect(pushed).toEqual(['c:expired'])
    // the soonest revoked: the next one is armed
    tokens.set('a', view('a', 1000, { revoked: true, status: 'revoked' }))
    expiry.changed(view('a', 1000, { revoked: true, status: 'revoked' }))
    vi.advanceTimersByTime(1000)
    expect(pushed).toEqual(['c:expired'])
    vi.advanceTimersByTime(4000)
    expect(pushed).toEqual(['c:expired', 'b:expired'])
    expect(reads).toBe(1)
  })

  it('a token given a later expiry is timed by the new one; one without expiry is not watched', () => {
    tokens.set('a', view('a', 1000))
    expiry.schedule()
    tokens.set('a', view('a', 3000))
    expiry.changed(view('a', 3000))
    vi.advanceTimersByTime(2000)
    expect(pushed).toEqual([])
    vi.advanceTimersByTime(1100)
    expect(pushed).toEqual(['a:expired'])
    expiry.changed(view('n', null))
    vi.advanceTimersByTime(100_000)
    expect(pushed).toEqual(['a:expired'])
  })
})
