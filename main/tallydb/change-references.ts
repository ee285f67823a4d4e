/**
 * Whether a change's operations name only operations its author had seen. Automerge applies an
 * operation on an object, list element or earlier value that is not in the change's history without
 * complaint, and it then acts once merged while showing nothing at the change's own dependencies (where
 * the vetting judges it): an outside reviewer rewrote the terms of the merchant's later proposal that way.
 * An operation id is `counter@actor`; it is seen when the change of that actor holding that counter is an
 * ancestor of the change (or the change itself).
 */
import { getChangesMetaSince } from '@automerge/automerge'
import type { Doc } from '@automerge/automerge'

const OP_ID = /^(\d+)@([0-9a-f]+)$/

/** A decoded change as far as this check reads it. */
export interface ChangeOps {
  hash: string
  actor: string
  startOp: number
  deps: string[]
  ops: ReadonlyArray<Record<string, unknown>>
}

/** What the vetting reads of a document's history (`doc` holds every change: ours and the fresh ones). */
export interface History {
  /** The last operation counter of a change (0 for one the document does not hold). */
  lastOp(hash: string): number
  /** The first operation id `change` names that its author had not seen, or undefined. */
  unseen(change: ChangeOps): string | undefined
}

/** The history of `doc`, from its changes' metadata (nothing decoded). */
export function historyOf(doc: Doc<unknown>): History {
  const meta = getChangesMetaSince(doc, [])
  const byHash = new Map(meta.map((m) => [m.hash, m]))
  // each actor's changes in seq order, with the counters they hold
  const byActor = new Map<string, Array<{ seq: number; startOp: number; maxOp: number }>>()
  for (const m of meta) {
    const list = byActor.get(m.actor) ?? []
    list.push({ seq: m.seq, startOp: m.startOp, maxOp: m.maxOp })
    byActor.set(m.actor, list)
  }
  for (const list of byActor.values()) list.sort((a, b) => a.startOp - b.startOp)
  // the highest seq of each actor among a change's ancestors and itself, kept per change
  const clocks = new Map<string, Map<string, number>>()
  const clockOf = (hash: string): Map<string, number> => {
    const stack = [hash]
    while (stack.length > 0) {
      const h = stack[stack.length - 1]!
      if (clocks.has(h)) {
        stack.pop()
        continue
      }
      const m = byHash.get(h)
      if (m === undefined) {
        clocks.set(h, new Map())
        stack.pop()
        continue
      }
      const missing = m.deps.filter((d) => !clocks.has(d))
      if (missing.length > 0) {
        stack.push(...missing)
        continue
      }
      const clock = new Map<string, number>()
      for (const d of m.deps)
        for (const [actor, seq] of clocks.get(d)!) clock.set(actor, Math.max(clock.get(actor) ?? 0, seq))
      clock.set(m.actor, Math.max(clock.get(m.actor) ?? 0, m.seq))
      clocks.set(h, clock)
      stack.pop()
    }
    return clocks.get(hash)!
  }
  const seqHolding = (actor: string, counter: number): number | undefined => {
    const list = byActor.get(actor)
    if (list === undefined) return undefined
    let lo = 0
    let hi = list.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const c = list[mid]!
      if (counter < c.startOp) hi = mid - 1
      else if (counter > c.maxOp) lo = mid + 1
      else return c.seq
    }
    return undefined
  }
  const lastOp = (hash: string): number => byHash.get(hash)?.maxOp ?? 0
  const unseen = (change: ChangeOps): string | undefined => {
    const seen = new Map<string, number>()
    for (const d of change.deps)
      for (const [actor, seq] of clockOf(d)) seen.set(actor, Math.max(seen.get(actor) ?? 0, seq))
    const ownEnd = change.startOp + change.ops.length
    const isUnseen = (ref: unknown): boolean => {
      if (typeof ref !== 'string') return false
      const m = OP_ID.exec(ref)
      if (m === null) return ref !== '_root' && ref !== '_head' && /@/.test(ref)
      const counter = Number(m[1])
      const actor = m[2]!
      if (actor === change.actor && counter >= change.startOp && counter < ownEnd) return false
      const seq = seqHolding(actor, counter)
      return seq === undefined || (seen.get(actor) ?? 0) < seq
    }
    for (const op of change.ops) {
      for (const ref of [op.obj, op.elemId]) if (isUnseen(ref)) return String(ref)
      // a list operation names its element in `key`; a map key is a plain name
      if (typeof op.key === 'string' && OP_ID.test(op.key) && isUnseen(op.key)) return op.key
      if (Array.isArray(op.pred)) for (const p of op.pred as unknown[]) if (isUnseen(p)) return String(p)
    }
    return undefined
  }
  return { lastOp, unseen }
}
