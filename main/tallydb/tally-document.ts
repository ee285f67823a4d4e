/**
 * The shared document of one tally: the draft tally, its terms, the proposals to change them and a
 * negotiation log; here its shape and the negotiation steps (agreement-steps.ts: what an acceptance owes
 * after; doc-view.ts: how it reads). Pure functions over the Automerge document (no I/O), so both
 * replicas apply the same rules.
 */
import { ImmutableString, isImmutableString } from '@automerge/automerge'
import { PROTOCOL_ID_V1_0, PROTOCOL_ID_V1_1 } from '../bootstrap/types.ts'
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
  /**
   * `withdrawn` by its proposer, `declined` by the other party, `superseded` by a later proposal of its
   * proposer: none of these can be accepted any more (a peer of an older version reads them as not open).
   */
  status: 'open' | 'awaiting-confirmation' | 'accepted' | 'withdrawn' | 'declined' | 'superseded'
  acceptedBy?: string
  acceptedAt?: string
  /**
   * Written by the acceptance: it counts only once its proposer confirms (`confirmedAt`). Until then the
   * view reads it `awaiting-confirmation` and the terms as they were; once confirmed no closing can undo
   * it. An acceptance without it (in a document made with an older peer, of text strings) counts at once
   * and loses to a closing it crossed.
   */
  awaitsConfirmation?: boolean
  /** When the proposer's node confirmed the acceptance (it does so as soon as it holds it). */
  confirmedAt?: string
  /**
   * When the acceptor's node learnt that its acceptance, still unconfirmed, crossed the proposer's
   * withdrawal or newer proposal: the closing then stands even against a confirmation dated back.
   */
  retractedAt?: string
  /**
   * The values the acceptance replaced (null: unset), so that an acceptance that crossed its proposer's
   * withdrawal can be undone the same way on both sides (docView).
   */
  replaced?: Partial<Record<keyof TallyTerms, number | string | null>>
  /** Who closed it and when (withdrawn, declined, superseded). */
  closedBy?: string
  closedAt?: string
}

/** One entry of the negotiation log. */
export interface NegotiationEntry {
  at: string
  by: string
  kind:
    'created' | 'terms-set' | 'proposed' | 'accepted' | 'confirmed' | 'retracted' | 'withdrawn' | 'declined'
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

/**
 * A string as the document holds it. A document made in a bootstrap 1.2.0 holds every string as a scalar
 * (ImmutableString): a field is only ever replaced whole (a proposal names the new value), never edited
 * character by character, so Automerge's collaborative text buys nothing and costs one op per character
 * where a scalar is one op (a new document: 560 -> 155 us to make, 687 -> 563 bytes). One made with an
 * older peer holds text, which that peer's code compares with plain strings, and keeps it for good.
 */
export type DocString = string | ImmutableString

/** How a document writes its strings: `scalar` (made in a 1.2.0 bootstrap) or `text` (with an older peer). */
export type StringForm = 'scalar' | 'text'

/** `T` as it sits in the document: every string a DocString. */
export type Stored<T> = T extends string
  ? DocString
  : T extends Array<infer U>
    ? Array<Stored<U>>
    : T extends object
      ? { [K in keyof T]: Stored<T[K]> }
      : T

/** The Automerge document of a tally, as stored (TallyDoc is how the API shows it). */
export type StoredTallyDoc = Stored<TallyDoc>

/** The string a document field holds, however it was written (undefined when it is not a string). */
export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v
  return isImmutableString(v) ? v.val : undefined
}

/** The form of a document made in a bootstrap of `protocol`: text unless both parties read scalars (1.2.0 on). */
export function stringFormFor(protocol: string | undefined): StringForm {
  return protocol === undefined || protocol === PROTOCOL_ID_V1_0 || protocol === PROTOCOL_ID_V1_1
    ? 'text'
    : 'scalar'
}

/** The form `doc` was made with (its schema tag is written in it), which every later write keeps. */
export function stringFormOf(doc: StoredTallyDoc): StringForm {
  return isImmutableString(doc.schema) ? 'scalar' : 'text'
}

/** `value` as a document of `form` holds it. */
export function written<T>(value: T, form: StringForm): Stored<T> {
  return form === 'scalar' ? scalars(value) : (value as Stored<T>)
}

/** A copy of `value` for writing into the document: every string in it a scalar. */
export function scalars<T>(value: T): Stored<T> {
  if (typeof value === 'string') return new ImmutableString(value) as Stored<T>
  if (Array.isArray(value)) return value.map((v: unknown) => scalars(v)) as Stored<T>
  if (value !== null && typeof value === 'object' && !isImmutableString(value)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = scalars(v)
    return out as Stored<T>
  }
  return value as Stored<T>
}

/** Longest note; longest unit. */
const MAX_NOTE = 2000
const MAX_UNIT = 32
const MAX_LIMIT = 1e15
/**
 * Proposals one document holds at most, closed ones included: a monthly renegotiation by each side for
 * eight years. It bounds what a counterparty can make us store and judge (change-vetting.ts).
 */
export const MAX_PROPOSALS = 200

/** Proposals one party may make on one tally: half of the document's, so neither can use up the other's. */
export const MAX_PROPOSALS_PER_PARTY = MAX_PROPOSALS / 2

/** How many of `proposals` (plain or stored) `by` made. */
export function proposalsBy(proposals: unknown, by: string): number {
  if (proposals === null || typeof proposals !== 'object') return 0
  return Object.values(proposals as Record<string, unknown>).filter(
    (p) => p !== null && typeof p === 'object' && str((p as { by?: unknown }).by) === by
  ).length
}

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
export function initialDoc(
  tally: DraftTally,
  terms: TallyTerms,
  by: string,
  at: string,
  form: StringForm = 'scalar'
): StoredTallyDoc {
  return written<TallyDoc>(
    {
      schema: TALLY_DOC_SCHEMA,
      tally: { ...tally },
      terms: { ...terms },
      proposals: {},
      log: [{ at, by, kind: 'created' }]
    },
    form
  )
}

/** Set the standing terms that no one has set yet (foil: the listener's token terms, written after sync). */
export function applyStandingTerms(doc: StoredTallyDoc, terms: TallyTerms, by: string, at: string): void {
  const form = stringFormOf(doc)
  let changed = false
  for (const [k, v] of Object.entries(terms) as Array<[keyof TallyTerms, TallyTerms[keyof TallyTerms]]>) {
    if (v !== undefined && doc.terms[k] === undefined) {
      ;(doc.terms as Record<string, unknown>)[k] = written(v, form)
      changed = true
    }
  }
  if (changed) doc.log.push(written<NegotiationEntry>({ at, by, kind: 'terms-set' }, form))
}

/** Add a proposal by `by` (one of the two parties). */
export function addProposal(doc: StoredTallyDoc, proposal: TermsProposal): void {
  if (!isParty(doc, proposal.by)) throw new ProposalError('only a party of the tally can propose')
  if (Object.keys(doc.proposals).length >= MAX_PROPOSALS)
    throw new ProposalError(
      `this tally holds ${MAX_PROPOSALS} proposals, the most one tally keeps: no more can be made`
    )
  if (proposalsBy(doc.proposals, proposal.by) >= MAX_PROPOSALS_PER_PARTY)
    throw new ProposalError(
      `you have made ${MAX_PROPOSALS_PER_PARTY} proposals on this tally, the most one party may: no more can be made`
    )
  if (Object.keys(proposal.terms).length === 0)
    throw new ProposalError('a proposal changes at least one term')
  const form = stringFormOf(doc)
  // a party's new proposal replaces its earlier open ones: the other party can no longer accept a stale one
  for (const earlier of Object.values(doc.proposals)) {
    if (str(earlier.by) !== proposal.by || str(earlier.status) !== 'open') continue
    close(earlier, 'superseded', proposal.by, proposal.at, form)
  }
  doc.proposals[proposal.proposalId] = written<TermsProposal>(
    { ...proposal, terms: { ...proposal.terms } },
    form
  )
  doc.log.push(
    written<NegotiationEntry>(
      { at: proposal.at, by: proposal.by, kind: 'proposed', proposalId: proposal.proposalId },
      form
    )
  )
}

/**
 * Accept an open proposal of the other party. Its terms are written into the tally's terms, and count
 * once the proposer confirms the acceptance (confirmAcceptance).
 */
export function acceptProposal(doc: StoredTallyDoc, proposalId: string, by: string, at: string): void {
  const proposal = doc.proposals[proposalId]
  if (proposal === undefined) throw new ProposalError('no such proposal')
  if (!isParty(doc, by)) throw new ProposalError('only a party of the tally can accept')
  if (str(proposal.by) === by) throw new ProposalError('a party cannot accept its own proposal')
  if (str(proposal.status) !== 'open') throw new ProposalError('the proposal is no longer open')
  const form = stringFormOf(doc)
  proposal.status = written('accepted' as const, form)
  proposal.acceptedBy = written(by, form)
  proposal.acceptedAt = written(at, form)
  // an older peer (a document of text strings) neither confirms nor takes a field it does not know
  if (form === 'scalar') proposal.awaitsConfirmation = true
  const replaced: Record<string, unknown> = {}
  for (const k of Object.keys(proposal.terms)) {
    const was = (doc.terms as Record<string, unknown>)[k]
    replaced[k] = was === undefined ? null : (str(was) ?? was)
  }
  ;(proposal as Record<string, unknown>).replaced = written(replaced, form)
  // a value read from the document (a text proxy or a scalar) is copied as the plain value it holds
  for (const [k, v] of Object.entries(proposal.terms))
    (doc.terms as Record<string, unknown>)[k] = written(str(v) ?? v, form)
  doc.log.push(written<NegotiationEntry>({ at, by, kind: 'accepted', proposalId }, form))
}

/**
 * Close an open proposal without accepting it: its proposer withdraws it, the other party declines it.
 * The terms do not change.
 */
export function closeProposal(
  doc: StoredTallyDoc,
  proposalId: string,
  by: string,
  at: string,
  how: 'withdrawn' | 'declined'
): void {
  const proposal = doc.proposals[proposalId]
  if (proposal === undefined) throw new ProposalError('no such proposal')
  if (!isParty(doc, by)) throw new ProposalError('only a party of the tally can close a proposal')
  const own = str(proposal.by) === by
  if (how === 'withdrawn' && !own) throw new ProposalError('only its proposer can withdraw a proposal')
  if (how === 'declined' && own)
    throw new ProposalError('a party cannot decline its own proposal: withdraw it')
  if (str(proposal.status) !== 'open') throw new ProposalError('the proposal is no longer open')
  const form = stringFormOf(doc)
  close(proposal, how, by, at, form)
  doc.log.push(written<NegotiationEntry>({ at, by, kind: how, proposalId }, form))
}

function close(
  proposal: StoredTallyDoc['proposals'][string],
  how: 'withdrawn' | 'declined' | 'superseded',
  by: string,
  at: string,
  form: StringForm
): void {
  proposal.status = written(how, form)
  proposal.closedBy = written(by, form)
  proposal.closedAt = written(at, form)
}

function isParty(doc: StoredTallyDoc, peerId: string): boolean {
  return peerId === str(doc.tally.initiatorPeerId) || peerId === str(doc.tally.respondentPeerId)
}
