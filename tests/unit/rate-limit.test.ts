/** Unit tests of the listener's rate limits: token buckets, the LRU bound, IP keys and the abuse guard. */
import { describe, expect, it } from 'vitest'
import { AbuseGuard, DEFAULT_ABUSE_LIMITS, TokenBuckets, ipKey } from '../../main/bootstrap/index.ts'
import type { ValidatedToken } from '../../main/bootstrap/index.ts'

function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1_000_000
  return { now: () => t, advance: (ms) => (t += ms) }
}

describe('TokenBuckets', () => {
  it('spends a burst, then refills at its rate', () => {
    const c = clock()
    const b = new TokenBuckets({ burst: 3, perSecond: 0.5, now: c.now })
    for (let i = 0; i < 3; i++) {
      expect(b.allows('p')).toBe(true)
      b.take('p')
    }
    expect(b.allows('p')).toBe(false)
    c.advance(1999)
    expect(b.allows('p')).toBe(false)
    c.advance(1)
    expect(b.allows('p')).toBe(true)
    expect(b.allows('other')).toBe(true)
  })

  it('lets debt build to maxDebt, which must be paid back before the key is allowed again', () => {
    const c = clock()
    const b = new TokenBuckets({ burst: 2, perSecond: 1, maxDebt: 4, now: c.now })
    for (let i = 0; i < 10; i++) b.take('p')
    expect(b.level('p')).toBe(-4)
    c.advance(4000)
    expect(b.allows('p')).toBe(false)
    c.advance(1000)
    expect(b.allows('p')).toBe(true)
  })

  it('give() refunds, never above the burst, and a full bucket is forgotten', () => {
    const c = clock()
    const b = new TokenBuckets({ burst: 2, perSecond: 0, now: c.now })
    b.take('p')
    expect(b.size).toBe(1)
    b.give('p', 5)
    expect(b.level('p')).toBe(2)
    expect(b.size).toBe(0)
  })

  it('keeps at most maxKeys keys: the least recently used is forgotten (back to a full bucket)', () => {
    const c = clock()
    const b = new TokenBuckets({ burst: 1, perSecond: 0, maxKeys: 100, now: c.now })
    for (let i = 0; i < 10_000; i++) b.take(`peer-${i}`)
    expect(b.size).toBe(100)
    expect(b.allows('peer-9999')).toBe(false)
    expect(b.allows('peer-0')).toBe(true)
  })
})

describe('ipKey', () => {
  it('keys IPv4 by address, IPv6 by /64, anything else by the whole address', () => {
    expect(ipKey({ toString: () => '/ip4/127.0.0.2/tcp/4001' })).toBe('127.0.0.2')
    expect(ipKey({ toString: () => '/ip6/2001:db8:0:1:aaaa::1/tcp/1' })).toBe('2001:db8:0:1/64')
    expect(ipKey({ toString: () => '/ip6/2001:db8:0:1:bbbb:1:2:3/tcp/1' })).toBe('2001:db8:0:1/64')
    expect(ipKey({ toString: () => '/ip6/::1/tcp/1' })).toBe('0:0:0:0/64')
    expect(ipKey({ toString: () => '/memory/x' })).toBe('/memory/x')
    expect(ipKey(undefined)).toBe('')
  })
})

describe('AbuseGuard', () => {
  const info = (extra: Partial<ValidatedToken> = {}): ValidatedToken => ({
    tokenId: 't1',
    role: 'stock',
    identityRequirements: [],
    ...extra
  })

  it('refuses a peer, then its IP, once their rejected contacts spent the burst', () => {
    const c = clock()
    const g = new AbuseGuard(
      { rejectedPerPeer: { burst: 2, perSecond: 0 }, rejectedPerIp: { burst: 3, perSecond: 0 } },
      c.now
    )
    g.settle('p1', 'ip', 'rejected')
    expect(g.checkStream('p1', 'ip', 0)).toBeUndefined()
    g.settle('p1', 'ip', 'rejected')
    expect(g.checkStream('p1', 'ip', 0)).toBe('peer-rejected')
    expect(g.checkStream('p2', 'ip', 0)).toBeUndefined()
    g.settle('p2', 'ip', 'rejected')
    expect(g.checkStream('p3', 'ip', 0)).toBe('ip-rejected')
    expect(g.checkStream('p3', 'other-ip', 0)).toBeUndefined()
    // idle streams cost the peer only, success costs nothing
    g.settle('p4', 'ip2', 'idle')
    g.settle('p4', 'ip2', 'done')
    expect(g.checkStream('p5', 'ip2', 0)).toBeUndefined()
  })

  it('bounds abandoned attempts per peer and per token (much tighter for a limited token)', () => {
    const c = clock()
    const g = new AbuseGuard({}, c.now)
    const { abandonedPerPeer, abandonedPerLimitedToken } = DEFAULT_ABUSE_LIMITS
    for (let i = 0; i < abandonedPerPeer.burst; i++) g.settle('p1', 'ip', 'abandoned', info())
    expect(g.checkStream('p1', 'ip', 0)).toBe('peer-abandoned')
    const single = info({ tokenId: 'single', uses: 1 })
    for (let i = 0; i < abandonedPerLimitedToken.burst; i++) {
      expect(g.admitToken(single)).toBeUndefined()
      g.settle(`fresh-${i}`, 'ip', 'abandoned', single)
    }
    expect(g.admitToken(single)).toBe('token-abandoned')
    // the unlimited token of the same peers is not locked by that
    expect(g.admitToken(info({ tokenId: 'open' }))).toBeUndefined()
  })

  it('bounds abandoned attempts per IP whatever the peer ids, slower than a public QR refills', () => {
    const c = clock()
    const g = new AbuseGuard({}, c.now)
    const { abandonedPerIp, abandonedPerToken } = DEFAULT_ABUSE_LIMITS
    // one host, a fresh peer id per attempt (an outside tester's way to keep a public QR busy)
    for (let i = 0; i < abandonedPerIp.burst; i++) {
      expect(g.checkStream(`fresh-${i}`, 'host', 0)).toBeUndefined()
      g.settle(`fresh-${i}`, 'host', 'abandoned', info())
    }
    expect(g.checkStream('fresh-next', 'host', 0)).toBe('ip-abandoned')
    expect(g.refusalCounts()['ip-abandoned']).toBe(0)
    // the QR itself is not locked: the host drained less than its bucket, and others still come in
    expect(g.admitToken(info())).toBeUndefined()
    expect(g.checkStream('someone', 'another-host', 0)).toBeUndefined()
    expect(abandonedPerIp.burst).toBeLessThan(abandonedPerToken.burst)
    expect(abandonedPerIp.perSecond).toBeLessThan(abandonedPerToken.perSecond)
    // customers of that host who finish pay back the ones who gave up
    const g2 = new AbuseGuard({}, c.now)
    for (let i = 0; i < abandonedPerIp.burst; i++) g2.settle(`gave-up-${i}`, 'nat', 'abandoned', info())
    expect(g2.checkStream('next', 'nat', 0)).toBe('ip-abandoned')
    g2.settle('served', 'nat', 'done', info())
    expect(g2.checkStream('next', 'nat', 0)).toBeUndefined()
  })

  it('a tally made on a token pays back one abandoned attempt of it (a rush where some customers gave up)', () => {
    const c = clock()
    const g = new AbuseGuard({ abandonedPerToken: { burst: 10, perSecond: 0 } }, c.now)
    const open = info({ tokenId: 'qr' })
    const rush = (abandoned: number, done: number): void => {
      for (let i = 0; i < abandoned; i++) g.settle(`gave-up-${i}`, 'ip', 'abandoned', open)
      for (let i = 0; i < done; i++) g.settle(`served-${i}`, 'ip', 'done', open)
    }
    rush(8, 8)
    rush(8, 0)
    // 16 abandoned in all, more than the burst, but 8 tallies were made in between
    expect(g.admitToken(open)).toBeUndefined()
    rush(8, 0)
    expect(g.admitToken(open)).toBe('token-abandoned')
    // never above the burst: tallies made before the abandoned attempts bank nothing
    const g2 = new AbuseGuard({ abandonedPerToken: { burst: 10, perSecond: 0 } }, c.now)
    for (let i = 0; i < 50; i++) g2.settle(`served-${i}`, 'ip', 'done', open)
    for (let i = 0; i < 10; i++) g2.settle(`gave-up-${i}`, 'ip', 'abandoned', open)
    expect(g2.admitToken(open)).toBe('token-abandoned')
  })

  it('bounds tallies confirmed on an unlimited token (a public QR), not on one with a use limit', () => {
    const c = clock()
    const g = new AbuseGuard({ confirmedPerToken: { burst: 3, perSecond: 1 } }, c.now)
    const open = info({ tokenId: 'qr' })
    for (let i = 0; i < 3; i++) {
      expect(g.admitToken(open)).toBeUndefined()
      g.settle(`customer-${i}`, 'ip', 'done', open)
    }
    expect(g.admitToken(open)).toBe('token-confirmed')
    c.advance(1000)
    expect(g.admitToken(open)).toBeUndefined()
    const limited = info({ tokenId: 'lot', uses: 100 })
    for (let i = 0; i < 10; i++) g.settle(`buyer-${i}`, 'ip', 'done', limited)
    expect(g.admitToken(limited)).toBeUndefined()
  })

  it('caps sessions per peer and pending approvals per token, freeing them as sessions end', () => {
    const g = new AbuseGuard({ maxSessionsPerPeer: 2, maxApprovalsPerToken: 2 })
    expect(g.checkStream('p', 'ip', 2)).toBe('peer-sessions')
    const op = info({ approvalTimeoutMs: 60_000 })
    expect(g.admitToken(op)).toBeUndefined()
    expect(g.admitToken(op)).toBeUndefined()
    expect(g.admitToken(op)).toBe('token-approvals')
    g.settle('p', 'ip', 'other', op)
    expect(g.admitToken(op)).toBeUndefined()
    g.refused('token-approvals')
    expect(g.refusalCounts()['token-approvals']).toBe(1)
  })
})
