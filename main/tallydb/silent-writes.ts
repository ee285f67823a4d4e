/**
 * Writes that change nothing a reader of plain JSON sees, but act once merged (and edits of a string in
 * place, which act as nothing a rule reads): a value written again with
 * the same JSON and another Automerge type (a number as a 64-bit float, a string as text instead of a
 * scalar). The negotiation rules compare plain JSON, so such a write passed as "no change" beside any
 * valid step (an eighth outside review): it kept a crossed acceptance's value standing as if agreed,
 * re-set a term to a value it held before an agreement made since (winning the merge with raised
 * counters), and turned the schema tag to text, which put the document under the old rule.
 */
import type { Patch } from '@automerge/automerge'
import { valueAt as at } from './plain-patches.ts'

/**
 * Why the change whose `patches` lead from `before` to `after` (plain JSON) writes a field again with the
 * value it already had, if it does. The one such write allowed: an acceptance writing a term its
 * proposal names (a document of text strings writes every string anew), which the reading of terms
 * gives to that acceptance (crossed-terms.ts).
 */
export function silentRewriteRefusal(
  before: unknown,
  patches: readonly Patch[],
  after: unknown
): string | undefined {
  const written = new Map<string, ReadonlyArray<string | number>>()
  for (const p of patches) if (p.action === 'put') written.set(JSON.stringify(p.path), p.path)
  for (const path of written.values()) {
    const was = at(before, path)
    if (was === undefined || JSON.stringify(was) !== JSON.stringify(at(after, path))) continue
    if (path.length === 2 && path[0] === 'terms' && acceptsTerm(before, after, String(path[1]))) continue
    return `it writes ${path.join('.')} again with the value it has`
  }
  return undefined
}

/** True when the change accepts a proposal (open before, accepted after) that names term `key`. */
function acceptsTerm(before: unknown, after: unknown, key: string): boolean {
  const was = asRecord(asRecord(before).proposals)
  for (const [id, p] of Object.entries(asRecord(asRecord(after).proposals))) {
    const now = asRecord(p)
    if (asRecord(was[id]).status === 'open' && now.status === 'accepted' && key in asRecord(now.terms))
      return true
  }
  return false
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
}

/**
 * Why `patches` edit a string in place, if they do. Honest code writes a string whole: a scalar in a
 * document of scalar strings, a new text (put, then spliced in full) in one of text strings. An edit of a
 * text that exists (a ninth outside review) changes a term without a write the rules or the reading of
 * terms see: three forks each deleting the last 0 of an agreed note and typing it again each end equal,
 * and merge to "10000" where "100" was agreed; a splice into the unit merged to "EUREUR".
 */
export function textEditRefusal(
  before: unknown,
  patches: readonly Patch[],
  scalar: boolean
): string | undefined {
  const made = new Set<string>()
  for (const p of patches) {
    if (p.action === 'put') {
      made.add(JSON.stringify(p.path))
      continue
    }
    if (p.action !== 'splice' && p.action !== 'del') continue
    const text = p.path.slice(0, -1)
    const key = JSON.stringify(text)
    // a deletion from a list or a map is a step the rules judge
    if (p.action === 'del' && typeof at(before, text) !== 'string' && !made.has(key)) continue
    if (scalar) return 'it writes a string as text in a document of scalar strings'
    if (!made.has(key)) return `it edits ${text.join('.')} in place`
  }
  return undefined
}
