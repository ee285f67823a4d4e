/**
 * How often one proposal may be accepted side by side. Every acceptance of a proposal is made while it
 * was open, so all of them are concurrent, and each is a valid step as its author saw the document. Two
 * or three nodes of one party racing make a few; an eighth outside review sent 1500, each dated back to
 * where the proposal was open, and made every later read of the tally page walk the whole history (0.5 s)
 * and each message's vetting take seconds.
 */
import { getConflicts } from '@automerge/automerge'
import type { Doc } from '@automerge/automerge'

/** Concurrent steps of one kind one proposal may hold (a party running that many nodes at once). */
export const MAX_ACCEPTANCES_PER_PROPOSAL = 4

const STEP_FIELDS = ['acceptedBy', 'closedBy', 'status', 'confirmedAt', 'retractedAt'] as const

/** Why `doc` (the document with a message's changes) holds too many steps side by side on one proposal, if it does. */
export function repeatedAcceptanceRefusal(doc: Doc<unknown>): string | undefined {
  const proposals = (doc as { proposals?: unknown }).proposals
  if (proposals === null || typeof proposals !== 'object') return undefined
  for (const [id, p] of Object.entries(proposals as Record<string, unknown>)) {
    if (p === null || typeof p !== 'object') continue
    // every step on a proposal writes one of these: acceptances, closings (declines 2600 side by side, a
    // ninth review), confirmations, retractions
    for (const key of STEP_FIELDS) {
      const side = getConflicts(p as Doc<unknown>, key)
      if (side !== undefined && Object.keys(side).length > MAX_ACCEPTANCES_PER_PROPOSAL)
        return `it makes more than ${MAX_ACCEPTANCES_PER_PROPOSAL} steps on proposal ${id.slice(0, 64)} side by side`
    }
  }
  return undefined
}
