/**
 * What one party may write into a tally's shared document, as a rule over one change: the document as its
 * author saw it (`before`) and with the change (`after`), both plain JSON. A counterparty holds a grant and
 * so can send any Automerge change; a change that breaks these rules is refused before the repo applies it
 * (change-vetting.ts), so a party cannot accept, decline, withdraw or log anything in the other's name.
 *
 * The rules are what tally-document.ts does, read backwards: each change is one negotiation step by its
 * author (create the document, propose, accept, confirm or retract an acceptance, decline, withdraw, set unset
 * standing terms) with the log
 * entry that step writes, and nothing else. So every change does something visible, and a document can grow
 * only by proposals, which are bounded (MAX_PROPOSALS).
 */
import { ProposalError } from './errors.ts'
import {
  MAX_PROPOSALS,
  MAX_PROPOSALS_PER_PARTY,
  TALLY_DOC_SCHEMA,
  checkTerms,
  proposalsBy
} from './tally-document.ts'

type Rec = Record<string, unknown>

const TOP_KEYS = new Set(['schema', 'tally', 'terms', 'proposals', 'log'])
const PROPOSAL_KEYS = new Set(['proposalId', 'by', 'at', 'terms', 'status'])
const ACCEPTED_KEYS = new Set([
  ...PROPOSAL_KEYS,
  'acceptedBy',
  'acceptedAt',
  'replaced',
  'awaitsConfirmation'
])
const CONFIRMED_KEYS = new Set([...ACCEPTED_KEYS, 'confirmedAt'])
const RETRACTED_KEYS = new Set([...ACCEPTED_KEYS, 'closedBy', 'closedAt', 'retractedAt'])
const CLOSED_KEYS = new Set([...PROPOSAL_KEYS, 'closedBy', 'closedAt'])
const LOG_KEYS = new Set(['at', 'by', 'kind', 'proposalId'])
/** An ISO time is 24 characters; an id is a UUID (36): longer ones are not ours. */
const MAX_AT = 40
const MAX_ID = 64

/**
 * Why `author` may not make the change from `before` to `after`, in words for a log; undefined when it may.
 * `before` is `{}` for the change that creates the document.
 */
export function changeRefusal(
  before: unknown,
  after: unknown,
  author: string,
  options: RuleOptions = {}
): string | undefined {
  if (!isRecord(after)) return 'the document is not an object'
  for (const k of Object.keys(after))
    if (!TOP_KEYS.has(k)) return `it adds a field the document has not (${k})`
  if (!isRecord(before) || Object.keys(before).length === 0) return creationRefusal(after, author)
  if (!same(before.schema, after.schema) || !same(before.tally, after.tally))
    return 'it changes the draft tally'
  const tally = rec(before.tally)
  if (author !== tally.initiatorPeerId && author !== tally.respondentPeerId)
    return 'its author is not a party'

  const bl = list(before.log)
  const al = list(after.log)
  if (al.length < bl.length || bl.some((e, i) => !same(e, al[i]))) return 'it rewrites the negotiation log'
  const added = al.slice(bl.length)
  for (const e of added) {
    if (!isRecord(e) || Object.keys(e).some((k) => !LOG_KEYS.has(k)) || !isShortString(e.at, MAX_AT))
      return 'it writes a log entry out of shape'
    if (e.by !== author) return "it writes a log entry in this node's name"
  }

  const steps: string[] = []
  const proposals = proposalSteps(
    rec(before.proposals),
    rec(after.proposals),
    author,
    steps,
    rec(before.terms),
    rec(after.terms),
    options
  )
  if (typeof proposals === 'string') return proposals

  const termsSet = termsRefusal(rec(before.terms), after.terms, proposals.accepted)
  if (typeof termsSet === 'string') return termsSet
  if (termsSet) {
    // standing terms are the listener's (its token's): set at creation in stock, right after it in foil
    if (author !== tally.respondentPeerId) return 'it sets standing terms, which only the listener does'
    // not later: an unset term (say the customer's limit) would otherwise be the listener's to set at will
    if (bl.length !== 1) return 'it sets standing terms after negotiation began'
    steps.push('terms-set:')
  }

  // each step writes exactly its log entry, and there is at least one step
  const logged = added.map((e) => `${String((e as Rec).kind)}:${String((e as Rec).proposalId ?? '')}`)
  if (steps.length === 0 && logged.length === 0) return 'it changes nothing'
  if (!same(steps.sort(), logged.sort())) return 'its log entries do not match what it changes'
  // one step per change, as tally-document.ts makes them: the reading of the terms (crossed-terms.ts)
  // gives each change's writes to the one acceptance it makes
  if (steps.length > 1) return 'it makes more than one negotiation step at once'
  return undefined
}

/** How strict the rules are for one document. */
export interface RuleOptions {
  /**
   * An acceptance must record the values it replaces (`replaced`), so a crossed one can be undone alike
   * on both sides. True for documents made in a 1.2.0 bootstrap (scalar strings); older peers write none.
   */
  requireReplaced?: boolean
  /**
   * An acceptance must await its proposer's confirmation (`awaitsConfirmation: true`): without it the old
   * rule would apply, under which its author could take it back with a decline dated before it. True for
   * documents of scalar strings, like requireReplaced; an older peer's text documents know no confirmation.
   */
  requireConfirmation?: boolean
}

/** `replaced` names each proposed term with the value the terms held before (null: unset), or is absent. */
function replacedRight(replaced: unknown, proposed: Rec, before: Rec, required: boolean): boolean {
  if (replaced === undefined) return !required
  if (!isRecord(replaced)) return false
  const keys = Object.keys(proposed)
  if (Object.keys(replaced).length !== keys.length) return false
  return keys.every((k) => k in replaced && same(replaced[k], before[k] ?? null))
}

/** The creation change: a document of the tally's schema, made by one of its parties, with no proposals. */
function creationRefusal(after: Rec, author: string): string | undefined {
  if (after.schema !== TALLY_DOC_SCHEMA) return 'it is not a tally document'
  const tally = rec(after.tally)
  if (typeof tally.tallyId !== 'string') return 'it is not a tally document'
  if (author !== tally.initiatorPeerId && author !== tally.respondentPeerId)
    return 'its author is not a party'
  if (Object.keys(rec(after.proposals)).length > 0 || !isRecord(after.proposals))
    return 'it is created with proposals'
  const log = list(after.log)
  const first = rec(log[0])
  if (log.length !== 1 || first.kind !== 'created' || first.by !== author || !isShortString(first.at, MAX_AT))
    return 'its log does not start with its creation'
  if (!termsValid(after.terms)) return 'its terms are out of bounds'
  return undefined
}

/** The steps the proposals' changes make (into `steps`), or why they may not. */
function proposalSteps(
  before: Rec,
  after: Rec,
  author: string,
  steps: string[],
  beforeTerms: Rec,
  afterTerms: Rec,
  options: RuleOptions
): { accepted: Rec[] } | string {
  const accepted: Rec[] = []
  let proposed = false
  let superseded = false
  for (const id of Object.keys(before)) if (!(id in after)) return 'it deletes a proposal'
  if (Object.keys(after).length > MAX_PROPOSALS) return 'it makes too many proposals'
  if (proposalsBy(after, author) > MAX_PROPOSALS_PER_PARTY)
    return 'it makes more proposals than one party may'
  for (const [id, value] of Object.entries(after)) {
    const was = before[id]
    if (same(was, value)) continue
    if (!isRecord(value)) return 'it writes a proposal out of shape'
    if (was === undefined) {
      const reason = newProposalRefusal(id, value, author)
      if (reason !== undefined) return reason
      proposed = true
      steps.push(`proposed:${id}`)
      continue
    }
    const w = rec(was)
    for (const k of ['proposalId', 'by', 'at', 'terms'])
      if (!same(w[k], value[k])) return 'it changes what a proposal proposed'
    if (w.status === 'accepted' && value.confirmedAt !== undefined && w.confirmedAt === undefined) {
      const reason = confirmationRefusal(w, value, author)
      if (reason !== undefined) return reason
      steps.push(`confirmed:${id}`)
      continue
    }
    if (value.retractedAt !== undefined && w.retractedAt === undefined) {
      const reason = retractionRefusal(w, value, author)
      if (reason !== undefined) return reason
      steps.push(`retracted:${id}`)
      continue
    }
    if (w.status !== 'open') return 'it reopens or changes a closed proposal'
    const own = w.by === author
    switch (value.status) {
      case 'accepted':
        if (own) return 'its author accepts its own proposal'
        if (
          !onlyKeys(value, ACCEPTED_KEYS) ||
          value.acceptedBy !== author ||
          !isShortString(value.acceptedAt, MAX_AT)
        )
          return "it accepts in this node's name"
        if (
          value.awaitsConfirmation === undefined
            ? options.requireConfirmation === true
            : value.awaitsConfirmation !== true
        )
          return 'it accepts without awaiting the proposer’s confirmation'
        if (!replacedRight(value.replaced, rec(w.terms), beforeTerms, options.requireReplaced === true))
          return 'it misstates the terms its acceptance replaces'
        // an acceptance makes its proposal's terms the tally's: one that leaves them out would be
        // confirmed and read agreed while the terms never changed
        for (const [k, v] of Object.entries(rec(w.terms)))
          if (!same(afterTerms[k], v)) return 'it accepts a proposal without taking its terms'
        accepted.push(value)
        steps.push(`accepted:${id}`)
        break
      case 'declined':
      case 'withdrawn':
      case 'superseded': {
        if (
          !onlyKeys(value, CLOSED_KEYS) ||
          value.closedBy !== author ||
          !isShortString(value.closedAt, MAX_AT)
        )
          return "it closes a proposal in this node's name"
        if (value.status === 'declined' ? own : !own)
          return `it marks a proposal ${value.status} that its author may not`
        if (value.status === 'superseded') superseded = true
        else steps.push(`${value.status}:${id}`)
        break
      }
      default:
        return 'it writes a proposal status that does not exist'
    }
  }
  // a proposal is superseded only by a newer one of its proposer in the same step
  if (superseded && !proposed) return 'it supersedes a proposal without a newer one'
  return { accepted }
}

/**
 * A proposer confirming the acceptance of its proposal (`was` → `now`): only that acceptance's own
 * proposer, only one that awaits it, and only while it knows of no closing of the proposal (a closing that
 * crossed the acceptance wins unless the proposer confirmed without knowing of it).
 */
function confirmationRefusal(was: Rec, now: Rec, author: string): string | undefined {
  if (was.by !== author) return "it confirms an acceptance in this node's name"
  if (was.awaitsConfirmation !== true) return 'it confirms an acceptance that awaits no confirmation'
  if (was.closedBy !== undefined || was.retractedAt !== undefined)
    return 'it confirms an acceptance of a proposal it knows was closed'
  if (!onlyKeys(now, CONFIRMED_KEYS) || !isShortString(now.confirmedAt, MAX_AT))
    return 'it writes a confirmation out of shape'
  return onlyAdds(was, now, 'confirmedAt') ? undefined : 'it changes an accepted proposal'
}

/**
 * An acceptor retracting its acceptance (`was` → `now`): only one awaiting confirmation, unconfirmed as
 * its author saw the document, that crossed its proposer's withdrawal or newer proposal.
 */
function retractionRefusal(was: Rec, now: Rec, author: string): string | undefined {
  if (was.acceptedBy !== author) return "it retracts an acceptance in this node's name"
  if (was.awaitsConfirmation !== true || was.confirmedAt !== undefined)
    return 'it retracts an acceptance that awaits no confirmation'
  if (was.closedBy === undefined || was.closedBy !== was.by)
    return 'it retracts an acceptance its proposer did not close'
  if (!onlyKeys(now, RETRACTED_KEYS) || !isShortString(now.retractedAt, MAX_AT))
    return 'it writes a retraction out of shape'
  return onlyAdds(was, now, 'retractedAt') ? undefined : 'it changes an accepted proposal'
}

/**
 * Why a step, valid as its author saw the document (`before` → `after`), may not meet the document this
 * node holds (`held`): a backdated change could otherwise reuse the id of a proposal made since.
 */
export function heldRefusal(before: unknown, after: unknown, held: unknown): string | undefined {
  const was = rec(rec(before).proposals)
  const here = rec(rec(held).proposals)
  // standing terms come before any acceptance (the listener writes them first, and all its later steps
  // depend on them): one dated back to the document's creation would set an unset term at will, later
  const added = list(rec(after).log).slice(list(rec(before).log).length)
  if (
    added.some((e) => rec(e).kind === 'terms-set') &&
    Object.values(here).some((p) => rec(p).acceptedBy !== undefined)
  )
    return 'it sets standing terms after an acceptance'
  for (const id of Object.keys(rec(rec(after).proposals)))
    if (was[id] === undefined && here[id] !== undefined)
      return 'it proposes under the id of a proposal made since'
  return undefined
}

function newProposalRefusal(id: string, p: Rec, author: string): string | undefined {
  if (
    !onlyKeys(p, PROPOSAL_KEYS) ||
    p.proposalId !== id ||
    id.length > MAX_ID ||
    !isShortString(p.at, MAX_AT)
  )
    return 'it writes a proposal out of shape'
  if (p.by !== author) return "it proposes in this node's name"
  if (p.status !== 'open') return 'it writes a proposal that is not open'
  if (!termsValid(p.terms) || Object.keys(rec(p.terms)).length === 0) return 'it proposes terms out of bounds'
  return undefined
}

/**
 * Terms change only as an accepted proposal's terms, or from unset to the value the author brings (its
 * standing terms, set once: applyStandingTerms). A reason, or whether terms were set that second way.
 */
function termsRefusal(before: Rec, afterTerms: unknown, accepted: Rec[]): string | boolean {
  if (!termsValid(afterTerms)) return 'it sets terms out of bounds'
  const after = rec(afterTerms)
  let set = false
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (same(before[k], after[k])) continue
    if (after[k] === undefined) return 'it removes a term'
    if (accepted.some((p) => same(rec(p.terms)[k], after[k]))) continue
    if (before[k] !== undefined) return `it changes the term ${k} without an accepted proposal`
    set = true
  }
  return set
}

function termsValid(terms: unknown): boolean {
  try {
    checkTerms(terms)
    return true
  } catch (err) {
    if (err instanceof ProposalError) return false
    throw err
  }
}

function isRecord(v: unknown): v is Rec {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function rec(v: unknown): Rec {
  return isRecord(v) ? v : {}
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

/** True when `now` is `was` with `key` added and nothing else changed. */
function onlyAdds(was: Rec, now: Rec, key: string): boolean {
  for (const k of new Set([...Object.keys(was), ...Object.keys(now)]))
    if (k !== key && !same(was[k], now[k])) return false
  return true
}

function onlyKeys(v: Rec, keys: ReadonlySet<string>): boolean {
  return Object.keys(v).every((k) => keys.has(k))
}

function isShortString(v: unknown, max: number): boolean {
  return typeof v === 'string' && v.length <= max
}

/** Deep equality of plain JSON values. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  return ka.every((k) => same((a as Rec)[k], (b as Rec)[k]))
}
