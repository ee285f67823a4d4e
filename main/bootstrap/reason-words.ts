/** Words a user understands for each reason a bootstrap fails, and for any error a bootstrap throws. */
import { dialFailureWords } from './dial-failure.ts'
import type { ReasonCode } from './types.ts'

/** A sentence a merchant understands for each reason a bootstrap can fail. */
export const REASON_MESSAGES: Record<ReasonCode, string> = {
  'invalid-token': 'this link is not valid on the other node',
  'token-expired': 'this link has expired',
  'token-used': 'this link has already been used',
  'token-revoked': 'this token was revoked',
  'role-mismatch': 'the other node uses this link for a different role',
  'identity-required': 'the other node needs more identity details',
  'identity-rejected': 'the other node did not accept the identity',
  'party-mismatch': 'the other party is not who it claims to be',
  busy: 'the other node is busy; try again in a moment',
  'bad-message': 'the other node sent something unexpected',
  timeout: 'the other node did not answer in time (or nobody approved the identity in time)',
  'provision-failed': 'the shared database could not be created',
  'internal-error': 'something went wrong on the node',
  unreachable: 'the other node could not be reached'
}

/** Reasons that mean the other party refused, as opposed to a fault or a timeout. */
export const REFUSAL_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'invalid-token',
  'token-expired',
  'token-used',
  'token-revoked',
  'role-mismatch',
  'identity-required',
  'identity-rejected',
  'party-mismatch',
  'busy'
])

/** Secret-free words for failures whose reason code alone says too little. */
const FAILURE_BY_NAME: Record<string, (err: unknown) => string> = {
  DialFailedError: (err) => {
    // what went wrong at each address, never the address or anything of the link
    const tried = (err as { cause?: { errors?: unknown } }).cause?.errors
    const words = Array.isArray(tried) ? [...new Set(tried.map(dialFailureWords))] : []
    return words.length === 0
      ? 'could not reach the other node'
      : `could not reach the other node: ${words.join('; ')}`
  },
  StreamClosedError: () => 'the other node closed the connection',
  InvalidLinkError: () => 'this is not a Taleus link'
}

/** Reason code and user-readable message of any error thrown by a bootstrap; never the error's own text. */
export function describeFailure(err: unknown): { reason: ReasonCode; message: string } {
  const reason = reasonOf(err)
  const name = err instanceof Error ? err.name : ''
  return { reason, message: FAILURE_BY_NAME[name]?.(err) ?? REASON_MESSAGES[reason] }
}

function reasonOf(err: unknown): ReasonCode {
  const reason = (err as { reason?: unknown } | null)?.reason
  return typeof reason === 'string' && reason in REASON_MESSAGES ? (reason as ReasonCode) : 'internal-error'
}
