/**
 * The document as a reader sees it: plain data, with each acceptance counted by the agreement rule
 * (confirmed, awaiting confirmation, crossed by a closing, retracted) and the terms read accordingly.
 */
import { getConflicts } from '@automerge/automerge'
import type { Doc } from '@automerge/automerge'
import { countTermsWithoutCrossed } from './crossed-terms.ts'
import type {
  NegotiationEntry,
  StoredTallyDoc,
  TallyDoc,
  TallyTerms,
  TermsProposal
} from './tally-document.ts'

/** The document as the API shows it: plain data, proposals newest first. */
export type TallyDocBody = Omit<TallyDoc, 'proposals'> & { proposals: TermsProposal[] }

/** A plain copy of the document for the API (no Automerge proxies), proposals newest first. */
export function docView(doc: StoredTallyDoc): TallyDocBody {
  const plain = JSON.parse(JSON.stringify(doc)) as TallyDoc
  // the counterparty writes into this document too: what it wrote out of shape is left out, not a crash
  const proposals = Object.values(isRecord(plain.proposals) ? plain.proposals : {}).filter(isProposalShape)
  const terms: Record<string, unknown> = isRecord(plain.terms) ? plain.terms : {}
  const log = Array.isArray(plain.log) ? plain.log.filter((e) => isRecord(e) && typeof e.at === 'string') : []
  // acceptances that do not count (yet): crossed by a closing, or awaiting their proposer's confirmation
  const uncounted = proposals.filter((p) => p.acceptedBy !== undefined && !acceptanceCounts(p, log))
  // the terms read from the writes themselves (crossed-terms.ts); by value only where there are none
  const read = proposals.map((p) => ({
    proposalId: p.proposalId,
    terms: p.terms as Record<string, unknown>,
    accepted: p.status === 'accepted',
    crossed: uncounted.includes(p),
    confirmed: p.status === 'accepted' && p.confirmedAt !== undefined,
    replaced: isRecord(p.replaced) ? p.replaced : {}
  }))
  // concurrent writes to a term: one may be a second acceptance of a confirmed proposal, dated back to
  // win the merge over an agreement made since; only the acceptance its confirmation names counts
  const reread = uncounted.length > 0 || (read.some((p) => p.confirmed) && termsConflicted(doc))
  if (reread && !countTermsWithoutCrossed(doc as Doc<unknown>, read, terms))
    for (const p of uncounted) undoByValue(p, terms)
  return {
    schema: plain.schema,
    tally: plain.tally,
    terms: terms as TallyTerms,
    proposals: proposals.sort((a, b) => b.at.localeCompare(a.at)),
    log
  }
}

/**
 * Whether `p`'s acceptance counts, its status set as the view reads it. A confirmed acceptance counts
 * whatever crossed it (its proposer confirmed it holding it, so a closing dated back later cannot revoke
 * it) unless its acceptor retracted it, having learnt of its proposer's closing first. One awaiting confirmation does
 * not count yet, and loses to a closing it crossed; so does one of an older build, which awaits none.
 */
function acceptanceCounts(p: TermsProposal, log: NegotiationEntry[]): boolean {
  // retracted: it had crossed its proposer's closing, which wins even over a confirmation it crossed
  if (p.retractedAt !== undefined) {
    closeCrossedAcceptance(p, log)
    return false
  }
  if (p.awaitsConfirmation === true && p.confirmedAt !== undefined) {
    p.status = 'accepted'
    return true
  }
  if (closeCrossedAcceptance(p, log)) return false
  if (p.awaitsConfirmation !== true) return p.status === 'accepted'
  if (p.status === 'accepted') p.status = 'awaiting-confirmation'
  return false
}

/**
 * An acceptance that crossed a closing of the same proposal: its proposer's withdrawal (or newer
 * proposal), or a decline by the accepting party itself (two of its nodes, or a backdated change). Each was
 * made while the proposal was open, and Automerge keeps both. The closing wins, on both sides alike: the
 * proposal reads as closed (true: `p` is such a proposal, and its terms are read without its acceptance).
 */
function closeCrossedAcceptance(p: TermsProposal, log: NegotiationEntry[]): boolean {
  if (p.acceptedBy === undefined || p.closedBy === undefined) return false
  if (p.closedBy === p.acceptedBy) {
    p.status = 'declined'
    return true
  }
  if (p.closedBy !== p.by) return false
  const withdrawn = log.some((e) => e.kind === 'withdrawn' && e.by === p.by && e.proposalId === p.proposalId)
  p.status = withdrawn ? 'withdrawn' : 'superseded'
  return true
}

/** True when a term of `doc` holds concurrent writes (false for a plain copy, which has none to read). */
function termsConflicted(doc: StoredTallyDoc): boolean {
  try {
    const terms = doc.terms as Record<string, unknown>
    return Object.keys(terms).some((k) => getConflicts(terms, k) !== undefined)
  } catch {
    return false
  }
}

/** A crossed acceptance's terms undone by their values (a plain copy, with no writes to read). */
function undoByValue(p: TermsProposal, terms: Record<string, unknown>): void {
  const replaced = isRecord(p.replaced) ? p.replaced : {}
  for (const [k, v] of Object.entries(p.terms)) {
    if (!(k in replaced) || JSON.stringify(terms[k]) !== JSON.stringify(v)) continue
    const was = (replaced as Record<string, unknown>)[k]
    if (was === null) delete terms[k]
    else terms[k] = was
  }
}

function isProposalShape(p: unknown): p is TermsProposal {
  return (
    isRecord(p) &&
    typeof p.proposalId === 'string' &&
    typeof p.by === 'string' &&
    typeof p.at === 'string' &&
    typeof p.status === 'string' &&
    isRecord(p.terms)
  )
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}
