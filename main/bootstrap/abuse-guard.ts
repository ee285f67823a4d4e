/**
 * The listener's memory of who misbehaves: contacts that end rejected (per peer and per remote IP) and
 * attempts that end abandoned after their token was accepted (per peer and per token). A peer, IP or
 * token whose bucket is empty is answered `busy` before any hook runs. Everything here lives in memory,
 * in LRU-capped maps: a refused contact costs no disk and a few bytes at most.
 */
import { Counts, TokenBuckets } from './rate-limit.ts'
import type { RateLimit } from './rate-limit.ts'
import type { ValidatedToken } from './types.ts'

/** Abuse limits of a SessionManager (listener side); each has a default in DEFAULT_ABUSE_LIMITS. */
export interface AbuseLimits {
  /** Contacts of one peer that ended rejected (invalid-token, bad-message, token-used, …) or idle. */
  rejectedPerPeer: RateLimit
  /** Contacts from one remote IP (IPv6: one /64) that ended rejected. */
  rejectedPerIp: RateLimit
  /** Attempts of one peer that ended abandoned: its token accepted, then it left or never finished. */
  abandonedPerPeer: RateLimit
  /**
   * Attempts from one remote IP (IPv6: one /64) that ended abandoned, whatever their peer ids: a host
   * that mints a peer id per attempt (free) refills slower than a public QR's own bucket, so it cannot
   * keep the QR answering `busy` to everyone (an outside tester did, from one host, for as long as it ran).
   */
  abandonedPerIp: RateLimit
  /** Abandoned attempts on one unlimited token (a public QR), whoever made them; each tally made on it pays one back. */
  abandonedPerToken: RateLimit
  /** Abandoned attempts on one token with a use limit: a single-use token cannot be farmed. */
  abandonedPerLimitedToken: RateLimit
  /**
   * Tallies confirmed on one unlimited token (a public QR): anyone holding it can make tallies, each a
   * record kept for good (an outside review made 538 a second, 20 KB each, until the node could no longer
   * start). The burst is a big rush's worth; a limited token is bounded by its uses.
   */
  confirmedPerToken: RateLimit
  /** Listener sessions one peer may run at once (past its contact). */
  maxSessionsPerPeer: number
  /** Sessions of one token waiting for the operator at once. */
  maxApprovalsPerToken: number
  /** Keys each bucket map keeps (least recently used forgotten past this). */
  maxTrackedKeys: number
}

/** Defaults of AbuseLimits, filled once by the SessionManager. */
export const DEFAULT_ABUSE_LIMITS: AbuseLimits = {
  rejectedPerPeer: { burst: 20, perSecond: 0.5 },
  rejectedPerIp: { burst: 200, perSecond: 10 },
  abandonedPerPeer: { burst: 5, perSecond: 1 / 30 },
  abandonedPerIp: { burst: 30, perSecond: 0.2 },
  abandonedPerToken: { burst: 100, perSecond: 0.5 },
  abandonedPerLimitedToken: { burst: 3, perSecond: 1 / 60 },
  confirmedPerToken: { burst: 2000, perSecond: 1 },
  maxSessionsPerPeer: 64,
  maxApprovalsPerToken: 16,
  maxTrackedKeys: 10_000
}

/** A limit that never refuses (tests of input handling that send thousands of bad contacts). */
export const NO_RATE_LIMIT: RateLimit = { burst: Number.MAX_SAFE_INTEGER, perSecond: 0 }

/** Why a contact was answered `busy` without being a session. */
export type RefusalCause =
  | 'peer-rejected'
  | 'ip-rejected'
  | 'peer-abandoned'
  | 'ip-abandoned'
  | 'peer-sessions'
  | 'capacity'
  | 'token-abandoned'
  | 'token-confirmed'
  | 'token-approvals'

/** How a listener session ended, as far as abuse accounting goes. */
export type ListenerOutcome = 'done' | 'rejected' | 'abandoned' | 'idle' | 'other'

/** Contacts answered `busy` by these limits since the manager started, by cause (memory only). */
export type RefusalCounts = Record<RefusalCause, number>

/** The buckets and counts behind AbuseLimits. */
export class AbuseGuard {
  readonly limits: AbuseLimits
  private readonly rejectedByPeer: TokenBuckets
  private readonly rejectedByIp: TokenBuckets
  private readonly abandonedByPeer: TokenBuckets
  private readonly abandonedByIp: TokenBuckets
  private readonly abandonedByToken: TokenBuckets
  private readonly abandonedByLimitedToken: TokenBuckets
  private readonly confirmedByToken: TokenBuckets
  private readonly approvals = new Counts()
  private readonly refusals: RefusalCounts = {
    'peer-rejected': 0,
    'ip-rejected': 0,
    'peer-abandoned': 0,
    'ip-abandoned': 0,
    'peer-sessions': 0,
    capacity: 0,
    'token-abandoned': 0,
    'token-confirmed': 0,
    'token-approvals': 0
  }

  constructor(limits: Partial<AbuseLimits> = {}, now?: () => number) {
    this.limits = { ...DEFAULT_ABUSE_LIMITS, ...limits }
    const maxKeys = this.limits.maxTrackedKeys
    const buckets = (limit: RateLimit, maxDebt?: number): TokenBuckets =>
      new TokenBuckets({
        ...limit,
        maxKeys,
        ...(maxDebt != null ? { maxDebt } : {}),
        ...(now != null ? { now } : {})
      })
    this.rejectedByPeer = buckets(this.limits.rejectedPerPeer)
    this.rejectedByIp = buckets(this.limits.rejectedPerIp)
    // a peer may run a whole table of attempts before the first is charged: it owes all of them
    this.abandonedByPeer = buckets(this.limits.abandonedPerPeer, this.limits.maxSessionsPerPeer)
    this.abandonedByIp = buckets(this.limits.abandonedPerIp)
    this.abandonedByToken = buckets(this.limits.abandonedPerToken)
    this.abandonedByLimitedToken = buckets(this.limits.abandonedPerLimitedToken)
    this.confirmedByToken = buckets(this.limits.confirmedPerToken)
  }

  /** A new stream from `peer` at `ip`: the cause to refuse it for, or undefined to let it in. */
  checkStream(peer: string, ip: string, peerSessions: number): RefusalCause | undefined {
    if (!this.rejectedByPeer.allows(peer)) return 'peer-rejected'
    if (!this.rejectedByIp.allows(ip)) return 'ip-rejected'
    if (!this.abandonedByPeer.allows(peer)) return 'peer-abandoned'
    if (!this.abandonedByIp.allows(ip)) return 'ip-abandoned'
    if (peerSessions >= this.limits.maxSessionsPerPeer) return 'peer-sessions'
    return undefined
  }

  /** A session's token is known: the cause to refuse it for; else it is admitted (and counted). */
  admitToken(info: ValidatedToken): RefusalCause | undefined {
    if (!this.tokenBuckets(info).allows(info.tokenId)) return 'token-abandoned'
    if (info.uses == null && !this.confirmedByToken.allows(info.tokenId)) return 'token-confirmed'
    if (info.approvalTimeoutMs != null) {
      if (this.approvals.get(info.tokenId) >= this.limits.maxApprovalsPerToken) return 'token-approvals'
      this.approvals.add(info.tokenId)
    }
    return undefined
  }

  /** Charges a finished session's outcome, and frees what admitToken counted. */
  settle(peer: string, ip: string, outcome: ListenerOutcome, info?: ValidatedToken): void {
    if (info?.approvalTimeoutMs != null) this.approvals.add(info.tokenId, -1)
    if (outcome === 'rejected') {
      this.rejectedByPeer.take(peer)
      this.rejectedByIp.take(ip)
    } else if (outcome === 'idle') {
      // a stream that never sent its contact costs its peer only: a slowloris is the pending-contact
      // cap's business, and charging the IP would lock out the customers behind the same NAT
      this.rejectedByPeer.take(peer)
    } else if (outcome === 'abandoned') {
      this.abandonedByPeer.take(peer)
      this.abandonedByIp.take(ip)
      if (info != null) this.tokenBuckets(info).take(info.tokenId)
    } else if (outcome === 'done' && info != null) {
      // a tally made on the token pays back one abandoned attempt: customers who gave up in a rush the
      // node was slow to serve do not lock its QR for the rest, and a holder of the QR still abandons no
      // faster than the bucket's rate plus the tallies actually made on it
      this.tokenBuckets(info).give(info.tokenId)
      // likewise for its host: customers behind one NAT who finish make up for those who gave up
      this.abandonedByIp.give(ip)
      if (info.uses == null) this.confirmedByToken.take(info.tokenId)
    }
  }

  /** Counts one refusal (memory only: a flood of refusals writes nothing). */
  refused(cause: RefusalCause): void {
    this.refusals[cause]++
  }

  /** Refusals so far, by cause. */
  refusalCounts(): RefusalCounts {
    return { ...this.refusals }
  }

  /** Tokens with sessions waiting for the operator right now. */
  approvalsOf(tokenId: string): number {
    return this.approvals.get(tokenId)
  }

  private tokenBuckets(info: ValidatedToken): TokenBuckets {
    return info.uses != null ? this.abandonedByLimitedToken : this.abandonedByToken
  }
}
