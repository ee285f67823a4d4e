/**
 * What validateToken returned, checked and filled in once: a missing tokenId is derived from a hash of the
 * token (so per-token bounds and single-use checks work for hooks written as the seed shows them), and the
 * identity requirements become a list whichever form the hook used.
 */
import { createHash } from 'node:crypto'
import { identityFields } from './identity-requirements.ts'
import type { TokenInfo, ValidatedToken } from './types.ts'

/** A stable public id for a token whose hook gave none: not reversible, safe to log. */
export function deriveTokenId(token: string): string {
  return `h-${createHash('sha256').update(token, 'utf8').digest('base64url').slice(0, 22)}`
}

/** True when the token's `expiryUtc` has passed (a hook need not check it itself). */
export function isExpired(info: TokenInfo, now = Date.now()): boolean {
  return info.expiryUtc != null && Date.parse(info.expiryUtc) <= now
}

/** The validated token, or undefined when `value` is not a well-formed TokenInfo. */
export function toValidatedToken(value: unknown, token: string): ValidatedToken | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  const info = value as TokenInfo
  if (info.role !== 'stock' && info.role !== 'foil') return undefined
  if (info.tokenId != null && (typeof info.tokenId !== 'string' || info.tokenId.length === 0))
    return undefined
  const fields = identityFields(info.identityRequirements)
  if (fields === undefined) return undefined
  if (
    info.approvalTimeoutMs != null &&
    (typeof info.approvalTimeoutMs !== 'number' ||
      !Number.isFinite(info.approvalTimeoutMs) ||
      info.approvalTimeoutMs <= 0)
  )
    return undefined
  if (info.uses != null && !(Number.isSafeInteger(info.uses) && info.uses > 0)) return undefined
  if (
    info.expiryUtc != null &&
    (typeof info.expiryUtc !== 'string' || Number.isNaN(Date.parse(info.expiryUtc)))
  )
    return undefined
  return { ...info, tokenId: info.tokenId ?? deriveTokenId(token), identityRequirements: fields }
}
