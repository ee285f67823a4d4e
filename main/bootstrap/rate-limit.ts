/**
 * Token buckets keyed by peer, IP or token, in a map of bounded size. libp2p's RateLimiter (@libp2p/utils)
 * is a fixed window with one timer per key and no bound on the number of keys: a stranger minting peer
 * ids would grow it without limit. Here a key costs one small object, refills lazily on access (no
 * timer), and past `maxKeys` the least recently used key is forgotten (it comes back with a full bucket).
 */

/** A bucket's shape: `burst` units at most, refilled at `perSecond`. */
export interface RateLimit {
  /** Units a fresh key may spend at once. */
  burst: number
  /** Units given back per second (fractions allowed: 0.1 = one every 10 s). */
  perSecond: number
}

/** Options of TokenBuckets. */
export interface TokenBucketsInit extends RateLimit {
  /** Keys kept at most; the least recently used is forgotten past this. Default 10 000. */
  maxKeys?: number
  /** How far below zero take() may drive a level (a debt paid back before the key is allowed again). Default burst. */
  maxDebt?: number
  /** Clock in ms (tests). Default Date.now. */
  now?: () => number
}

/** Default maxKeys of TokenBuckets. */
export const DEFAULT_MAX_KEYS = 10_000

interface Bucket {
  level: number
  at: number
}

/** One token bucket per key, in an LRU-capped map. */
export class TokenBuckets {
  private readonly burst: number
  private readonly perMs: number
  private readonly maxKeys: number
  private readonly maxDebt: number
  private readonly now: () => number
  private readonly buckets = new Map<string, Bucket>()

  constructor(init: TokenBucketsInit) {
    this.burst = Math.max(0, init.burst)
    this.perMs = Math.max(0, init.perSecond) / 1000
    this.maxKeys = Math.max(1, init.maxKeys ?? DEFAULT_MAX_KEYS)
    this.maxDebt = Math.max(0, init.maxDebt ?? this.burst)
    this.now = init.now ?? Date.now
  }

  /** Keys currently tracked (≤ maxKeys). */
  get size(): number {
    return this.buckets.size
  }

  /** True when `key` has at least one whole unit left. Touches the key (LRU) only if it is tracked. */
  allows(key: string): boolean {
    return this.level(key) >= 1
  }

  /**
   * Spends `n` units of `key`. The level may go below zero, down to -maxDebt: a peer that ran many
   * attempts at once before the first was charged waits for them to be paid back.
   */
  take(key: string, n = 1): void {
    const bucket = this.touch(key)
    bucket.level = Math.max(-this.maxDebt, bucket.level - n)
  }

  /** Gives `n` units back to `key` (never above burst). */
  give(key: string, n = 1): void {
    const bucket = this.buckets.get(key)
    if (bucket === undefined) return
    this.refill(key, bucket).level = Math.min(this.burst, bucket.level + n)
    this.forgetIfFull(key, bucket)
  }

  /** The current level of `key` (burst for an unknown key). */
  level(key: string): number {
    const bucket = this.buckets.get(key)
    if (bucket === undefined) return this.burst
    const { level } = this.refill(key, bucket)
    this.forgetIfFull(key, bucket)
    return level
  }

  private touch(key: string): Bucket {
    const bucket = this.buckets.get(key)
    if (bucket !== undefined) return this.refill(key, bucket)
    const fresh = { level: this.burst, at: this.now() }
    this.buckets.set(key, fresh)
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value
      if (oldest !== undefined) this.buckets.delete(oldest)
    }
    return fresh
  }

  /** Brings the bucket up to date and moves its key to the young end of the map. */
  private refill(key: string, bucket: Bucket): Bucket {
    const now = this.now()
    bucket.level = Math.min(this.burst, bucket.level + (now - bucket.at) * this.perMs)
    bucket.at = now
    this.buckets.delete(key)
    this.buckets.set(key, bucket)
    return bucket
  }

  /** A full bucket holds nothing worth remembering: forgetting it keeps the map to the keys that matter. */
  private forgetIfFull(key: string, bucket: Bucket): void {
    if (bucket.level >= this.burst) this.buckets.delete(key)
  }
}

/** Counts per key that vanish at zero, so the map holds only live keys. */
export class Counts {
  private readonly counts = new Map<string, number>()

  get(key: string): number {
    return this.counts.get(key) ?? 0
  }

  add(key: string, n = 1): void {
    const next = this.get(key) + n
    if (next > 0) this.counts.set(key, next)
    else this.counts.delete(key)
  }

  get size(): number {
    return this.counts.size
  }
}

/**
 * The key of a remote address for per-IP limits: the IPv4 address, an IPv6 /64 (one host commonly owns
 * a whole /64), or the whole multiaddr for anything else (relays, memory transports).
 */
export function ipKey(remoteAddr: { toString(): string } | undefined): string {
  const text = remoteAddr?.toString() ?? ''
  const match = /^\/(ip4|ip6)\/([^/]+)/.exec(text)
  if (match == null) return text
  if (match[1] === 'ip4') return match[2]!
  return `${ipv6Prefix64(match[2]!)}/64`
}

function ipv6Prefix64(address: string): string {
  const [head = '', tail] = address.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')
}
