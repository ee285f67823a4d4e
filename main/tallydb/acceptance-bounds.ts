/**
 * How often one proposal may be accepted side by side. Every acceptance of a proposal is made while it
 * was open, so all of them are concurrent, and each is a valid step as its author saw the document. Two
 * or three nodes of one party racing make a few; an eighth outside review sent 1500, each dated back to
 * where the proposal was open, and made every later read of the tally page walk the whole history (0.5 s)
 * and each message's vetting take seconds.
 */
import { getConflicts } from '@automerge/automerge'
import type { Doc } from '@automerge/automerge'

/** Concurrent acceptances one proposal may hold (a party running that many nodes at once). */
export const MAX_ACCEPTANCES_PER_PROPOSAL = 4

/** Why `doc` (the document with a message's changes) holds too many acceptances of one proposal, if it does. */
export function repeatedAcceptanceRefusal(doc: Doc<unknown>): string | undefined {
  const proposals = (doc as { proposals?: unknown }).proposals
  if (proposals === null || typeof proposals !== 'object') return undefined
  for (const [id, p] of Object.entries(proposals as Record<string, unknown>)) {
    if (p === null || typeof p !== 'object') continue
    const acceptances = getConflicts(p as Doc<unknown>, 'acceptedBy')
    if (acceptances !== undefined && Object.keys(acceptances).length > MAX_ACCEPTANCES_PER_PROPOSAL)
      return `it accepts proposal ${id.slice(0, 64)} more than ${MAX_ACCEPTANCES_PER_PROPOSAL} times side by side`
  }
  return undefined
}
