/**
 * The terms as they read once the acceptances that crossed a closing of their proposal do not count. Such
 * an acceptance wrote the terms as Automerge merges any write: it may have won over a real agreement made
 * concurrently (an outside reviewer's customer made its crossed acceptance win, with higher operation
 * counters, over the limit both had agreed since), or been overwritten by a later agreement of the same
 * value. So each term is read from the writes themselves: the newest write still standing that is not a
 * crossed acceptance's; where all are, the writes those overwrote, and so on back (a crossed acceptance
 * may have overwritten another one). An agreement made since of the same value, which Automerge writes as
 * nothing, keeps the value.
 */
import { decodeChange, getAllChanges, getHeads, getObjectId, view } from '@automerge/automerge'
import type { Doc } from '@automerge/automerge'

/** One write to a term: its operation id, what it overwrote, and the crossed proposal it belongs to. */
interface TermWrite {
  /** The value a `set` wrote (undefined for text: read from the document while it stands). */
  value: unknown
  text: boolean
  id: string
  counter: number
  actor: string
  del: boolean
  pred: string[]
  hash: string
  crossedBy: string | undefined
}

/** A proposal as docView read it: whether its acceptance crossed, and what that acceptance replaced. */
export interface ReadProposal {
  proposalId: string
  terms: Record<string, unknown>
  accepted: boolean
  crossed: boolean
  /**
   * Counted because its proposer confirmed it: then only the acceptance that confirmation names counts
   * (another acceptance of it, e.g. one dated back by its acceptor, is read like a crossed one).
   */
  confirmed: boolean
  replaced: Record<string, unknown>
}

/**
 * Set in `terms` (plain, read from `doc`) what each term written by a crossed acceptance counts as.
 * False when `doc` is not an Automerge document (nothing changed then).
 */
export function countTermsWithoutCrossed(
  doc: Doc<unknown>,
  proposals: readonly ReadProposal[],
  terms: Record<string, unknown>
): boolean {
  const root = doc as { terms?: object; proposals?: Record<string, object> }
  const termsObj = root.terms === undefined ? null : getObjectId(root.terms)
  if (termsObj === null) return false
  // every read of the tally page reads the view: the history is decoded once per state of the document
  const at = getHeads(doc).join(',')
  const kept = readTerms.get(at)
  if (kept !== undefined) {
    for (const k of Object.keys(terms)) delete terms[k]
    Object.assign(terms, structuredClone(kept))
    return true
  }
  countFromWrites(doc, root, termsObj, proposals, terms)
  readTerms.set(at, structuredClone(terms))
  for (const old of readTerms.keys()) {
    if (readTerms.size <= KEPT_READINGS) break
    readTerms.delete(old)
  }
  return true
}

/** Documents' terms as read at their heads, newest last (a tally page read again costs nothing). */
const readTerms = new Map<string, Record<string, unknown>>()
const KEPT_READINGS = 64

function countFromWrites(
  doc: Doc<unknown>,
  root: { terms?: object; proposals?: Record<string, object> },
  termsObj: string,
  proposals: readonly ReadProposal[],
  terms: Record<string, unknown>
): void {
  const byObject = new Map<string, ReadProposal>()
  for (const p of proposals) {
    const obj = root.proposals?.[p.proposalId]
    const id = obj === undefined ? null : getObjectId(obj)
    if (id !== null) byObject.set(id, p)
  }
  // each acceptance's change (hash), and every change's dependencies: which came after which
  const deps = new Map<string, string[]>()
  const acceptances: Array<{ hash: string; proposal: ReadProposal }> = []
  const confirmations = new Map<string, string[]>()
  const decoded = getAllChanges(doc).map((bytes) => decodeChange(bytes))
  for (const change of decoded) {
    const hash = change.hash as string
    deps.set(hash, change.deps)
    for (const op of change.ops as unknown as Op[]) {
      const proposal = op.key === undefined ? undefined : byObject.get(op.obj)
      // the change that wrote a proposal's acceptedBy is its acceptance; confirmedAt, its confirmation
      if (proposal !== undefined && op.key === 'acceptedBy') acceptances.push({ hash, proposal })
      if (proposal !== undefined && op.key === 'confirmedAt')
        confirmations.set(proposal.proposalId, [...(confirmations.get(proposal.proposalId) ?? []), hash])
    }
  }
  const notCounting = (hash: string, p: ReadProposal): boolean =>
    p.crossed ||
    (p.confirmed && !(confirmations.get(p.proposalId) ?? []).some((k) => isAncestor(deps, hash, k)))
  const crossedIn = new Map(
    acceptances.filter((a) => notCounting(a.hash, a.proposal)).map((a) => [a.hash, a.proposal.proposalId])
  )
  const writes = new Map<string, TermWrite[]>()
  for (const change of decoded) {
    const hash = change.hash as string
    ;(change.ops as unknown as Op[]).forEach((op, i) => {
      if (op.obj !== termsObj || op.key === undefined) return
      const list = writes.get(op.key) ?? []
      list.push({
        value: op.action === 'set' ? plainValue(op.value) : undefined,
        text: op.action === 'makeText',
        id: `${change.startOp + i}@${change.actor}`,
        counter: change.startOp + i,
        actor: change.actor,
        del: op.action === 'del',
        pred: op.pred ?? [],
        hash,
        crossedBy: crossedIn.get(hash)
      })
      writes.set(op.key, list)
    })
  }
  const replacedOf = new Map(proposals.map((p) => [p.proposalId, p.replaced]))
  for (const [key, list] of writes) {
    if (!list.some((w) => w.crossedBy !== undefined)) continue
    const byId = new Map(list.map((w) => [w.id, w]))
    const standing = live(
      list.map((w) => w.id),
      byId
    )
    const winner = standing[0]
    if (winner === undefined || winner.crossedBy === undefined) continue
    // an agreement since of the same value wrote nothing (Automerge skips a write of the value there is)
    const value = JSON.stringify(terms[key])
    const confirmed = acceptances.some(
      (a) =>
        a.proposal.accepted &&
        !crossedIn.has(a.hash) &&
        JSON.stringify(a.proposal.terms[key]) === value &&
        isAncestor(deps, winner.hash, a.hash)
    )
    if (confirmed) continue
    const read = valueWithoutCrossed(standing, byId, (w) =>
      w.value !== undefined ? w.value : textAt(doc, w, key)
    )
    if (read === UNSET) delete terms[key]
    else if (read !== UNKNOWN) terms[key] = read
    else {
      // a value only the document's text holds (a document of text strings): as the acceptance recorded it
      const replaced = replacedOf.get(winner.crossedBy) ?? {}
      if (!(key in replaced)) continue
      const was = replaced[key]
      if (was === null) delete terms[key]
      else terms[key] = was
    }
  }
}

/** One operation of a decoded change, as far as this reading needs it. */
interface Op {
  action: string
  obj: string
  key?: string
  pred?: string[]
  value?: unknown
}

const UNSET = Symbol('unset')
const UNKNOWN = Symbol('unknown')

/** The writes among `ids` that none of the others overwrote (deletions left out), newest first. */
function live(ids: Iterable<string>, byId: ReadonlyMap<string, TermWrite>): TermWrite[] {
  const writes = [...new Set(ids)].map((id) => byId.get(id)).filter((w) => w !== undefined)
  const overwritten = new Set(writes.flatMap((w) => w.pred))
  return writes.filter((w) => !w.del && !overwritten.has(w.id)).sort(newestFirst)
}

/**
 * The value of the newest write among `standing` that is not a crossed acceptance's; where all are, the
 * writes they overwrote, and so on back (a crossed acceptance may have overwritten another one).
 */
function valueWithoutCrossed(
  standing: TermWrite[],
  byId: ReadonlyMap<string, TermWrite>,
  valueOf: (w: TermWrite) => unknown
): unknown {
  const seen = new Set<string>()
  for (let level = standing; level.length > 0;) {
    const counted = level.find((w) => w.crossedBy === undefined)
    if (counted !== undefined) {
      const v = counted.value !== undefined || counted.text ? valueOf(counted) : undefined
      return v === undefined ? UNKNOWN : v
    }
    for (const w of level) seen.add(w.id)
    level = live(
      level.flatMap((w) => w.pred).filter((id) => !seen.has(id)),
      byId
    )
  }
  return UNSET
}

/** The text a write of a text string made, as its own change left the document (it may be overwritten since). */
function textAt(doc: Doc<unknown>, w: TermWrite, key: string): unknown {
  try {
    return plainValue((view(doc, [w.hash]) as { terms?: Record<string, unknown> }).terms?.[key])
  } catch {
    return undefined
  }
}

/** True when change `earlier` is among the dependencies (transitively) of change `later`. */
function isAncestor(deps: ReadonlyMap<string, string[]>, earlier: string, later: string): boolean {
  const seen = new Set<string>()
  const todo = [...(deps.get(later) ?? [])]
  for (let h = todo.pop(); h !== undefined; h = todo.pop()) {
    if (h === earlier) return true
    if (seen.has(h)) continue
    seen.add(h)
    todo.push(...(deps.get(h) ?? []))
  }
  return false
}

/** Automerge's order of concurrent writes: the greater counter wins, then the greater actor. */
function newestFirst(a: TermWrite, b: TermWrite): number {
  return b.counter - a.counter || (b.actor > a.actor ? 1 : b.actor < a.actor ? -1 : 0)
}

function plainValue(v: unknown): unknown {
  return v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as unknown)
}
