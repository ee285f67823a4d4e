/**
 * The rules every MerchantStore applies in its hooks, whatever it stores in: what a token tells the
 * session, which identity fields must be there, what a well-formed provision result is, and the tally
 * record a session writes. Pure: no I/O, so the lowdb store and the PostgreSQL store share one copy.
 */
import type { IdentityBundle } from '../views/console-views.ts'
import { RejectedError } from '../bootstrap/errors.ts'
import type {
  DbConnectionInfo,
  DraftTally,
  HookContext,
  PartyRole,
  ProvisionResult,
  TokenInfo
} from '../bootstrap/types.ts'
import { boundedCadre, keptIdentity } from './tally-book.ts'
import type { TallyRecord } from './tally-book.ts'
import type { TokenRecord } from './token-book.ts'
import type { LocalNode } from './types.ts'

/** Longest token text looked up; anything longer is not ours. */
export const MAX_TOKEN_CHARS = 512
/** Per-session bookkeeping is capped so sessions that never end cannot grow it without bound. */
export const MAX_TRACKED_SESSIONS = 20_000
const MAX_ID_CHARS = 200

/** What validateToken tells the session about a token record. */
export function tokenInfo(t: TokenRecord): TokenInfo {
  const info: TokenInfo = {
    tokenId: t.tokenId,
    role: t.role,
    identityRequirements: [...t.identityRequirements]
  }
  if (t.expiresAt !== null) info.expiryUtc = new Date(t.expiresAt).toISOString()
  if (t.label !== '') info.label = t.label
  // the session gives validateIdentity this long (plus a margin) instead of one step
  if (t.approval === 'operator') info.approvalTimeoutMs = t.approvalTimeoutMs
  // a limited token gets the protocol's tight bound on abandoned attempts
  if (t.uses !== 'unlimited') info.uses = t.uses
  return info
}

/** Set `key` in a session map, newest last, dropping the oldest past MAX_TRACKED_SESSIONS. */
export function remember(map: Map<string, string>, key: string, value: string): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > MAX_TRACKED_SESSIONS) {
    const oldest = map.keys().next().value
    if (oldest !== undefined) map.delete(oldest)
  }
}

/** The bundle as a plain object of its string fields (never a prototype). */
export function copyBundle(bundle: IdentityBundle): IdentityBundle {
  const out: IdentityBundle = {}
  for (const [k, v] of Object.entries(bundle))
    if (typeof v === 'string')
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
  return out
}

/** What we keep of the bundle a peer sent (keptIdentity); throws identity-required when a `required` field is missing or blank. */
export function checkIdentity(bundle: IdentityBundle, required: readonly string[]): IdentityBundle {
  const given = bundle !== null && typeof bundle === 'object' && !Array.isArray(bundle) ? bundle : {}
  for (const field of required) {
    const value = Object.hasOwn(given, field) ? given[field] : undefined
    if (typeof value !== 'string' || value.trim() === '') throw new RejectedError('identity-required')
  }
  // the operator sees what the tally will keep of it
  return keptIdentity(given, required) ?? {}
}

const isText = (v: unknown, max = MAX_ID_CHARS): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max

/** A well-formed ProvisionResult of `createdBy` between initiator `dialer` and respondent `listener`. */
export function isProvisionResult(
  v: unknown,
  createdBy: PartyRole,
  dialer: string,
  listener: string
): v is ProvisionResult {
  if (v === null || typeof v !== 'object') return false
  const { tally, dbConnectionInfo } = v as Partial<ProvisionResult>
  if (
    tally === null ||
    typeof tally !== 'object' ||
    dbConnectionInfo === null ||
    typeof dbConnectionInfo !== 'object'
  )
    return false
  return (
    isText(tally.tallyId) &&
    tally.createdBy === createdBy &&
    tally.initiatorPeerId === dialer &&
    tally.respondentPeerId === listener &&
    isText(tally.createdAt, 64) &&
    Array.isArray(dbConnectionInfo.nodes) &&
    dbConnectionInfo.nodes.length <= 64 &&
    dbConnectionInfo.nodes.every((n) => isText(n, 1024)) &&
    isText(dbConnectionInfo.credentials, 1024)
  )
}

/** A well-formed response check shared by the stores; 'record' means: record the stock tally A sent. */
export function responseVerdict(
  node: LocalNode,
  response: unknown,
  ctx: HookContext
): 'reject' | 'accept' | { record: ProvisionResult } {
  if (response === null || typeof response !== 'object') return 'reject'
  const { role, partyId, cadrePeerAddrs, provisionResult } = response as Record<string, unknown>
  if (role !== 'stock' && role !== 'foil') return 'reject'
  if (partyId !== ctx.remotePeerId) return 'reject'
  if (!Array.isArray(cadrePeerAddrs) || !cadrePeerAddrs.every((a) => typeof a === 'string')) return 'reject'
  // stock: A provisioned and must say so; foil: B provisions next, A must not have
  if (role === 'foil') return provisionResult === undefined ? 'accept' : 'reject'
  if (!isProvisionResult(provisionResult, 'stock', node.peerId, ctx.remotePeerId)) return 'reject'
  return { record: provisionResult }
}

/**
 * The draft record a session writes for its tally (`token`: the token an inbound session presented). Of the
 * database's connection info it keeps where the database is: never the grant (a secret, re-derived or kept
 * sealed by the tally database) nor a handed-over document (the tally database holds it).
 */
export function newTallyRecord(
  node: LocalNode,
  tally: DraftTally,
  db: Pick<DbConnectionInfo, 'nodes'>,
  role: PartyRole,
  ctx: HookContext,
  now: number,
  token?: { tokenId: string; label: string | undefined }
): TallyRecord {
  const record: TallyRecord = {
    tallyId: tally.tallyId,
    role,
    direction: ctx.direction,
    status: 'draft',
    counterpartyPeerId: ctx.remotePeerId,
    localPeerId: node.peerId,
    sessionId: ctx.sessionId,
    createdAt: now,
    updatedAt: now,
    tally: {
      tallyId: tally.tallyId,
      createdBy: tally.createdBy,
      initiatorPeerId: tally.initiatorPeerId,
      respondentPeerId: tally.respondentPeerId,
      createdAt: tally.createdAt
    },
    dbConnectionInfo: { nodes: [...db.nodes], credentials: '' }
  }
  if (token !== undefined && ctx.direction === 'inbound') {
    record.tokenId = token.tokenId
    if (token.label !== undefined) record.tokenLabel = token.label
  }
  const { counterparty } = ctx
  if (counterparty != null) {
    // only the listener holds another party's identity (a dialer's bundle is its own)
    const identity =
      ctx.direction === 'inbound'
        ? keptIdentity(counterparty.identityBundle, ctx.token?.identityRequirements ?? [])
        : undefined
    if (identity !== undefined) record.counterpartyIdentity = identity
    const cadre = boundedCadre(counterparty.cadrePeerAddrs)
    if (cadre !== undefined) record.counterpartyCadre = cadre
  }
  return record
}

/** True for the state that ends a session (its token bookkeeping can go). */
export function isFinalState(state: string): boolean {
  return state.endsWith('_DONE') || state.endsWith('_FAILED') || state.endsWith('_TIMEOUT')
}
