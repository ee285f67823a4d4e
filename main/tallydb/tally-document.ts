/**
 * The shared document of one tally: the draft tally, its terms, the proposals to change them and a
 * negotiation log. Pure functions over the Automerge document (no I/O), so both replicas apply the same rules.
 */
import type { DraftTally } from '../bootstrap/types.ts'
import { ProposalError } from './errors.ts'

/** Schema tag of a tally document. */
export const TALLY_DOC_SCHEMA = 'taleus/tally/1'

/**
 * Standing terms of a tally. The credit limits are in `unit`: `stockCreditLimit` is how much the stock
 * holder lets the foil holder owe it, `foilCreditLimit` how much the foil holder lets the stock holder owe.
 */
export interface TallyTerms {
  stockCreditLimit?: number
  foilCreditLimit?: number
  /** Currency or unit of account, e.g. "CHIP" or "USD". */
  unit?: string
  /** Free text (at most 2000 characters). */
  note?: string
}

/** A proposed change of the terms (only the fields it changes). */
export interface TermsProposal {
  proposalId: string
  /** PeerId of the party that proposed it. */
  by: string
  at: string
  terms: TallyTerms
  status: 'open' | 'accepted'
  acceptedBy?: string
  acceptedAt?: string
}

/** One entry of the negotiation log. */
export interface NegotiationEntry {
  at: string
  by: string
  kind: 'created' | 'terms-set' | 'proposed' | 'accepted'
  proposalId?: string
}

/** The Automerge document of a tally. */
export interface TallyDoc {
  schema: typeof TALLY_DOC_SCHEMA
  tally: DraftTally
  terms: TallyTerms
  proposals: Record<string, TermsProposal>
  log: NegotiationEntry[]
}

/** Longest note; longest unit. */
const MAX_NOTE = 2000
const MAX_UNIT = 32
const MAX_LIMIT = 1e15
/** Proposals one document holds at most (a counterparty cannot grow it without bound through us). */
export const MAX_PROPOSALS = 1000

/** Checked copy of terms input; throws ProposalError on a bad field. Undefined fields are left out. */
export function checkTerms(input: unknown): TallyTerms {
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new ProposalError('terms must be an object')
  const t = input as Record<string, unknown>
  const out: TallyTerms = {}
  for (const key of ['stockCreditLimit', 'foilCreditLimit'] as const) {
    const v = t[key]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_LIMIT)
      throw new ProposalError(`${key}: a number from 0 to ${MAX_LIMIT}`)
    out[key] = v
  }
  if (t.unit !== undefined) {
    if (typeof t.unit !== 'string' || t.unit.trim() === '' || t.unit.length > MAX_UNIT)
      throw new ProposalError(`unit: 1 to ${MAX_UNIT} characters`)
    out.unit = t.unit.trim()
  }
  if (t.note !== undefined) {
    if (typeof t.note !== 'string' || t.note.length > MAX_NOTE)
      throw new ProposalError(`note: at most ${MAX_NOTE} characters`)
    out.note = t.note
  }
  for (const key of Object.keys(t))
    if (!['stockCreditLimit', 'foilCreditLimit', 'unit', 'note'].includes(key))
      throw new ProposalError(`unknown term: ${key}`)
  return out
}

/** The initial document of a freshly provisioned tally. */
export function initialDoc(tally: DraftTally, terms: TallyTerms, by: string, at: string): TallyDoc {
  return {
    schema: TALLY_DOC_SCHEMA,
    tally: { ...tally },
    terms: { ...terms },
    proposals: {},
    log: [{ at, by, kind: 'created' }]
  }
}

/** Set the standing terms that no one has set yet (foil: the listener's token terms, written after sync). */
export function applyStandingTerms(doc: TallyDoc, terms: TallyTerms, by: string, at: string): void {
  let changed = false
  for (const [k, v] of Object.entries(terms) as Array<[keyof TallyTerms, TallyTerms[keyof TallyTerms]]>) {
    if (v !== undefined && doc.terms[k] === undefined) {
      ;(doc.terms as Record<string, unknown>)[k] = v
      changed = true
    }
  }
  if (changed) doc.log.push({ at, by, kind: 'terms-set' })
}

/** Add a proposal by `by` (one of the two parties). */
export function addProposal(doc: TallyDoc, proposal: TermsProposal): void {
  if (!isParty(doc, proposal.by)) throw new ProposalError('only a party of the tally can propose')
  if (Object.keys(doc.proposals).length >= MAX_PROPOSALS) throw new ProposalError('too many proposals')
  if (Object.keys(proposal.terms).length === 0)
    throw new ProposalError('a proposal changes at least one term')
  doc.proposals[proposal.proposalId] = { ...proposal, terms: { ...proposal.terms } }
  doc.log.push({ at: proposal.at, by: proposal.by, kind: 'proposed', proposalId: proposal.proposalId })
}

/** Accept an open proposal of the other party: its terms become the tally's terms. */
export function acceptProposal(doc: TallyDoc, proposalId: string, by: string, at: string): void {
  const proposal = doc.proposals[proposalId]
  if (proposal === undefined) throw new ProposalError('no such proposal')
  if (!isParty(doc, by)) throw new ProposalError('only a party of the tally can accept')
  if (proposal.by === by) throw new ProposalError('a party cannot accept its own proposal')
  if (proposal.status !== 'open') throw new ProposalError('the proposal is no longer open')
  proposal.status = 'accepted'
  proposal.acceptedBy = by
  proposal.acceptedAt = at
  for (const [k, v] of Object.entries(proposal.terms)) (doc.terms as Record<string, unknown>)[k] = v
  doc.log.push({ at, by, kind: 'accepted', proposalId })
}

function isParty(doc: TallyDoc, peerId: string): boolean {
  return peerId === doc.tally.initiatorPeerId || peerId === doc.tally.respondentPeerId
}

/** The document as the API shows it: plain data, proposals newest first. */
export type TallyDocBody = Omit<TallyDoc, 'proposals'> & { proposals: TermsProposal[] }

/** A plain copy of the document for the API (no Automerge proxies), proposals newest first. */
export function docView(doc: TallyDoc): TallyDocBody {
  const plain = JSON.parse(JSON.stringify(doc)) as TallyDoc
  return {
    schema: plain.schema,
    tally: plain.tally,
    terms: plain.terms ?? {},
    proposals: Object.values(plain.proposals ?? {}).sort((a, b) => b.at.localeCompare(a.at)),
    log: plain.log ?? []
  }
}
