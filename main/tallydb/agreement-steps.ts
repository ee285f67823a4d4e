/**
 * The steps an acceptance owes after it is made (protocol.md, "The shared tally database"): its proposer
 * confirms it, or its acceptor retracts it once the proposer's closing crossed it. Pure functions over the
 * document, like tally-document.ts.
 */
import { ProposalError } from './errors.ts'
import { str, stringFormOf, written } from './tally-document.ts'
import type { NegotiationEntry, StoredTallyDoc } from './tally-document.ts'

/**
 * The proposer confirms the other party's acceptance of its proposal, which then counts for good. Only
 * while no closing of it is known: a withdrawal or newer proposal that crossed the acceptance wins.
 */
export function confirmAcceptance(doc: StoredTallyDoc, proposalId: string, by: string, at: string): void {
  const proposal = doc.proposals[proposalId]
  if (proposal === undefined) throw new ProposalError('no such proposal')
  if (str(proposal.by) !== by) throw new ProposalError('only its proposer can confirm an acceptance')
  if (!awaitsConfirmation(proposal)) throw new ProposalError('no acceptance of it awaits confirmation')
  const form = stringFormOf(doc)
  proposal.confirmedAt = written(at, form)
  doc.log.push(written<NegotiationEntry>({ at, by, kind: 'confirmed', proposalId }, form))
}

/**
 * The acceptor retracts its unconfirmed acceptance that crossed the proposer's withdrawal or newer
 * proposal: the proposer can then no longer confirm it, not even with a change dated back before the
 * retraction (a retraction wins over a confirmation it crossed). Without it the proposer would hold, for
 * good, the option to confirm an acceptance both sides read as withdrawn.
 */
export function retractAcceptance(doc: StoredTallyDoc, proposalId: string, by: string, at: string): void {
  const proposal = doc.proposals[proposalId]
  if (proposal === undefined) throw new ProposalError('no such proposal')
  if (str(proposal.acceptedBy) !== by) throw new ProposalError('only its acceptor can retract an acceptance')
  if (!retractable(proposal)) throw new ProposalError('no acceptance of it can be retracted')
  const form = stringFormOf(doc)
  proposal.retractedAt = written(at, form)
  doc.log.push(written<NegotiationEntry>({ at, by, kind: 'retracted', proposalId }, form))
}

/** The steps `by`'s node owes: confirming acceptances of its proposals, retracting crossed acceptances of its own. */
export function acceptanceStepsDue(
  doc: StoredTallyDoc,
  by: string
): Array<{ proposalId: string; step: 'confirm' | 'retract' }> {
  const out: Array<{ proposalId: string; step: 'confirm' | 'retract' }> = []
  for (const [id, p] of Object.entries(isRecord(doc.proposals) ? doc.proposals : {})) {
    if (!isRecord(p)) continue
    if (str(p.by) === by && awaitsConfirmation(p)) out.push({ proposalId: id, step: 'confirm' })
    else if (str(p.acceptedBy) === by && retractable(p)) out.push({ proposalId: id, step: 'retract' })
  }
  return out
}

/** The ids of `by`'s proposals whose acceptance awaits its confirmation (and that nothing closed). */
export function acceptancesToConfirm(doc: StoredTallyDoc, by: string): string[] {
  return acceptanceStepsDue(doc, by)
    .filter((s) => s.step === 'confirm')
    .map((s) => s.proposalId)
}

function awaitsConfirmation(p: StoredTallyDoc['proposals'][string]): boolean {
  return (
    str(p.status) === 'accepted' &&
    p.awaitsConfirmation === true &&
    p.confirmedAt === undefined &&
    p.retractedAt === undefined &&
    p.closedBy === undefined
  )
}

/** An unconfirmed acceptance crossed by its proposer's closing, not yet retracted. */
function retractable(p: StoredTallyDoc['proposals'][string]): boolean {
  return (
    p.awaitsConfirmation === true &&
    p.acceptedBy !== undefined &&
    p.confirmedAt === undefined &&
    p.retractedAt === undefined &&
    p.closedBy !== undefined &&
    str(p.closedBy) === str(p.by)
  )
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}
