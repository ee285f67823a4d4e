/** Reason and error codes in words a merchant understands: the renderer's one map. */
import type { ReasonCode } from '../../../preload/contract.ts'
import { toApiCallError } from './api-error.ts'

/** Every bootstrap reason code, as a sentence. */
export const REASON_WORDS: Record<ReasonCode, string> = {
  'invalid-token': 'The link is not valid on the other node.',
  'token-expired': 'The link has expired.',
  'token-used': 'The link has already been used up.',
  'token-revoked': 'The link was revoked.',
  'role-mismatch': 'The other node uses this link for a different role.',
  'identity-required': 'The other node needs more identity details.',
  'identity-rejected': 'The identity was not accepted.',
  'party-mismatch': 'The other party is not who it claims to be.',
  busy: 'The node had too many customers at once (load). Try again in a moment.',
  'bad-message': 'The other node sent something unexpected.',
  timeout: 'The other node did not answer in time, or nobody approved the identity in time.',
  'provision-failed': 'The shared database could not be created.',
  'internal-error': 'Something went wrong on the node.',
  unreachable: 'Could not reach the other node: it is not answering at the addresses in the link.'
}

/** API error codes that are not bootstrap reasons. */
const API_WORDS: Record<string, string> = {
  'bad-input': 'Some of the details are not valid.',
  'invalid-link': 'This is not a Taleus link.',
  'own-link': 'This is one of your own links: your customers dial it, this node cannot.',
  'not-found': 'It no longer exists on this node.',
  unauthorized:
    'This console is not signed in: run taleus console on the node’s computer to open it signed in.',
  'forbidden-sender': 'This window may not use the console.',
  'bad-request': 'The request was malformed.',
  'unknown-command': 'This node does not know that action. Is it up to date?',
  'store-write-failed': 'The data folder cannot be written (read-only or full).',
  unreachable: 'Your Taleus node is not answering. Is it running?',
  'http-error': 'The Taleus node answered with an error.'
}

/** Codes of a failed store check (setStoreSetting): the node's message names what is wrong. */
const STORE_CHECK_CODES: ReadonlySet<string> = new Set([
  'store-unreachable',
  'store-auth',
  'store-no-database',
  'store-not-migratable',
  'store-check-failed'
])

/** Short label of a reason for table cells. */
export const REASON_SHORT: Record<ReasonCode, string> = {
  'invalid-token': 'Invalid link',
  'token-expired': 'Link expired',
  'token-used': 'Link used up',
  'token-revoked': 'Link revoked',
  'role-mismatch': 'Wrong role',
  'identity-required': 'Identity missing',
  'identity-rejected': 'Identity rejected',
  'party-mismatch': 'Wrong party',
  busy: 'Busy (too much load)',
  'bad-message': 'Bad message',
  timeout: 'Timed out',
  'provision-failed': 'Database failed',
  'internal-error': 'Something went wrong',
  unreachable: 'Could not reach the other node'
}

/** The sentence for a reason or API code. */
export function describeReason(code: string | undefined): string {
  if (code == null) return ''
  return (REASON_WORDS as Record<string, string>)[code] ?? API_WORDS[code] ?? 'Something went wrong.'
}

/** The short label for a reason code. */
export function shortReason(code: string | undefined): string {
  if (code == null) return ''
  return (REASON_SHORT as Record<string, string>)[code] ?? code
}

/** Words for any failed call: the node's message for bad input without its field path, else the code's words. */
export function describeError(err: unknown): string {
  const e = toApiCallError(err)
  if (e.code === 'bad-input' && e.message !== '') {
    // The node says `identityRequirements.3: …`: the path means nothing to the person at the counter.
    const words = e.message.replace(/^[\w$.[\]-]+:\s*/, '').trim()
    return words === '' ? describeReason(e.code) : `Some of the details are not valid: ${words}.`
  }
  // A store check says what is wrong with the server in words of its own (host, user, database named).
  if (STORE_CHECK_CODES.has(e.code) && e.message !== '') return e.message
  // A command that fails as unreachable is this console losing its own node, not another node.
  if (e.code === 'unreachable') return API_WORDS['unreachable'] ?? ''
  return describeReason(e.code)
}
