/**
 * The counterparty's changes checked before our replica takes them. A sync message (or a handed-over
 * document) from a peer brings Automerge changes; those we do not hold yet were made by that peer, since
 * only the two parties of a tally share its document and our own changes are on disk before they are sent.
 * Each is checked against change-rules.ts as its author saw the document (the state at the change's own
 * dependencies, so honest concurrent changes pass), and for size, before the repo applies any of them.
 */
import {
  Counter,
  applyChanges,
  isImmutableString,
  clone,
  decodeChange,
  decodeSyncMessage,
  diff,
  getAllChanges,
  getHeads,
  hasHeads,
  init,
  loadIncremental,
  saveSince
} from '@automerge/automerge'
import type { Doc, Patch } from '@automerge/automerge'
import { InflateBudget, chunkRows, splitChunks } from './change-columns.ts'
import { historyOf } from './change-references.ts'
import { changeRefusal, heldRefusal } from './change-rules.ts'
import { applyPlainPatches, valueAt as at } from './plain-patches.ts'
import { silentRewriteRefusal, textEditRefusal } from './silent-writes.ts'
import { repeatedAcceptanceRefusal } from './acceptance-bounds.ts'
import { MAX_PROPOSALS, MAX_PROPOSALS_PER_PARTY, checkTerms, proposalsBy } from './tally-document.ts'

/** How much one counterparty's changes may add. */
export interface VetLimits {
  /** Bytes of one change. The largest honest one (a proposal with a 2000-character note) is a few KB. */
  maxChangeBytes: number
  /** Operations of one change (a note written as text is one per character). */
  maxChangeOps: number
  /** Bytes of a whole document (a snapshot: it must fit in one frame of the channel). */
  maxDocumentBytes: number
  /**
   * Bytes of the document's changes, each as sent (about 3× its snapshot). The most an honest tally holds:
   * 200 proposals with 2000-character notes, each accepted (the note copied into the terms and into
   * `replaced`), ~1.45 MB, its snapshot ~0.5 MB. At 1 MiB such a tally stopped syncing for good at its
   * 144th agreement (a ninth outside review).
   */
  maxHistoryBytes: number
  /**
   * Operations of a whole document, or of one message in all (a scalar document of 200 proposals holds
   * ~10 000; a text one, as peers before 1.2.0 write it, one per character: ~75 notes of 2000). Decoding
   * 500 000 held a merchant 8 s.
   */
  maxDocumentOps: number
  /**
   * Changes in one message (copies of ones we hold count too). Judging one costs up to ~7 ms (512 side by
   * side held a merchant 3.7 s); an honest party would have to make this many negotiation steps on one
   * tally while the other was away.
   */
  maxFreshChanges: number
}

/** Default limits: a document full of the largest honest proposals stays well inside them. */
export const VET_LIMITS: VetLimits = {
  maxChangeBytes: 64 * 1024,
  maxChangeOps: 8_000,
  maxDocumentBytes: 1024 * 1024,
  maxHistoryBytes: 2 * 1024 * 1024,
  maxDocumentOps: 150_000,
  maxFreshChanges: 128
}

/**
 * The outcome: `fresh` changes we did not hold passed; or refused with a reason. `retry`: not wrong, only
 * incomplete (a change whose dependencies have not arrived): a new channel syncs again from scratch.
 */
export type Vetted = { ok: true; fresh: number } | { ok: false; retry: boolean; reason: string }

/** The changes a sync message carries; undefined when the bytes are not a sync message. */
export function syncMessageChanges(data: Uint8Array): Uint8Array[] | undefined {
  return syncMessageOf(data)?.changes
}

/** The changes a sync message carries and the heads its sender says it holds; undefined when not one. */
export function syncMessageOf(data: Uint8Array): { changes: Uint8Array[]; heads: string[] } | undefined {
  try {
    const m = decodeSyncMessage(data)
    return { changes: m.changes, heads: m.heads }
  } catch {
    return undefined
  }
}

/**
 * What the vetting knows of a document at some heads: its state as plain JSON and its size in bytes, kept
 * between messages (the state is made once per document, not once per message).
 */
export interface Shadow {
  heads: string[]
  state: unknown
  bytes: number
}

/** Where a caller keeps a document's Shadow between messages. */
export interface ShadowSlot {
  get(): Shadow | undefined
  set(shadow: Shadow): void
}

/** Vet `changes`, sent by `author`, against our replica `base` (unchanged: the check runs on a copy). */
export function vetChanges(
  base: Doc<unknown>,
  changes: Uint8Array[],
  author: string,
  limits: VetLimits = VET_LIMITS,
  slot?: ShadowSlot
): Vetted {
  const fresh: Uint8Array[] = []
  const decoded: Array<{
    hash: string
    deps: string[]
    startOp: number
    ops: number
    actor: string
    opList: ReadonlyArray<Record<string, unknown>>
  }> = []
  // one byte array may hold several chunks back to back (Automerge 3's sync messages do): one each
  const chunks: Uint8Array[] = []
  for (const blob of changes) {
    const split = splitChunks(blob)
    if (typeof split === 'string') return refused(split)
    chunks.push(...split)
  }
  // the whole message is measured before anything in it is loaded or decoded
  const budget = messageRefusal(chunks, limits)
  if (budget !== undefined) return refused(budget)
  const each = expand(chunks)
  if (typeof each === 'string') return refused(each)
  let freshBytes = 0
  for (const change of each) {
    let d: ReturnType<typeof decodeChange>
    try {
      d = decodeChange(change)
    } catch {
      return refused('a change that does not decode')
    }
    if (d.hash === undefined || hasHeads(base, [d.hash])) continue
    if (d.ops.length > limits.maxChangeOps) return refused(`a change of ${d.ops.length} operations`)
    if (fresh.length >= limits.maxFreshChanges)
      return refused(`more than ${limits.maxFreshChanges} changes at once`)
    fresh.push(change)
    freshBytes += change.byteLength
    decoded.push({
      hash: d.hash,
      deps: d.deps,
      startOp: d.startOp,
      ops: d.ops.length,
      actor: d.actor,
      opList: d.ops as unknown as ReadonlyArray<Record<string, unknown>>
    })
  }
  if (fresh.length === 0) return { ok: true, fresh: 0 }
  let after: Doc<unknown>
  try {
    ;[after] = applyChanges(clone(base), fresh)
  } catch {
    return refused('changes the document engine cannot apply')
  }
  if (decoded.some((d) => !hasHeads(after, [d.hash])))
    return { ok: false, retry: true, reason: 'changes whose dependencies have not arrived' }
  // before judging each change: a flood of acceptances, each valid as its author saw the document
  const repeated = repeatedAcceptanceRefusal(after)
  if (repeated !== undefined) return refused(repeated)
  // the state at our heads, as kept since the last message if nothing changed since
  const baseHeads = getHeads(base)
  const kept = slot?.get()
  let shadow: Shadow =
    kept !== undefined && sameHeads(kept.heads, baseHeads)
      ? kept
      : { heads: baseHeads, state: plain(base), bytes: saveSince(base, []).byteLength }
  // the document as this node holds it before the message: what a backdated change must not override
  const merged = shadow.state
  const bytes = shadow.bytes + freshBytes
  if (bytes > limits.maxHistoryBytes) return refused(`the document would grow to ${bytes} bytes`)
  // each change's operation counter must follow the changes it depends on, as Automerge writes it: an
  // inflated one wins every conflict (a stale acceptance over the proposer's later withdrawal)
  const history = historyOf(after)
  // a document made in a 1.2.0 bootstrap holds scalars (its schema tag says so): both sides write `replaced`
  // a document of scalar strings (a 1.2.0 bootstrap on): every acceptance records `replaced` and awaits confirmation
  const scalar = isImmutableString((after as { schema?: unknown }).schema)
  const rules = { requireReplaced: scalar, requireConfirmation: scalar }
  try {
    for (const d of causalOrder(decoded)) {
      const expected = 1 + Math.max(0, ...d.deps.map(history.lastOp))
      if (d.startOp !== expected)
        return refused('a change whose operation counter does not follow its history')
      if (history.unseen({ ...d, ops: d.opList }) !== undefined)
        return refused('an operation on what its author had not seen')
      // only the document's own creation depends on nothing: a second one would compete with it for
      // every field of the document (and win with higher counters)
      if (d.deps.length === 0 && baseHeads.length > 0) return refused('a second creation of the document')
      // a document of scalar strings holds no text object at all, not even an empty one (no splice shows it)
      if (scalar && d.opList.some((op) => op.action === 'makeText'))
        return refused('it writes a string as text in a document of scalar strings')
      // the state the author saw: from the last one we know, by the patches between their heads
      const before = sameHeads(shadow.heads, d.deps)
        ? shadow.state
        : applyPlainPatches(shadow.state, diff(after, shadow.heads, d.deps))
      const patches = diff(after, d.deps, [d.hash])
      // every operation shows in what the change does as its author saw the document: one on an object
      // it had not seen, one that overwrites or deletes its own, a conflict with itself, shows nothing
      // there but acts once merged (it could rewrite the other party's values unseen)
      if (d.ops > visibleUnits(patches)) return refused('operations that do not show in what it changes')
      const shape = shapeRefusal(before, patches)
      if (shape !== undefined) return refused(shape)
      const state = applyPlainPatches(before, patches)
      const silent =
        silentRewriteRefusal(before, patches, state) ??
        textEditRefusal(before, patches, rules.requireConfirmation)
      if (silent !== undefined) return refused(silent)
      // setting standing terms backdated to before other terms were set would win the merge over them
      const standing = setsStandingTerms(before, state, merged)
      if (standing !== undefined) return refused(standing)
      const reason = changeRefusal(before, state, author, rules) ?? heldRefusal(before, state, merged)
      if (reason !== undefined) return refused(reason)
      shadow = { heads: [d.hash], state, bytes }
    }
    const afterHeads = getHeads(after)
    if (!sameHeads(shadow.heads, afterHeads))
      shadow = {
        heads: afterHeads,
        state: applyPlainPatches(shadow.state, diff(after, shadow.heads, afterHeads)),
        bytes
      }
  } catch {
    return refused('changes whose effect cannot be read')
  }
  // each change passed as its author saw the document; together, merged, they must still fit the bounds
  // (512 changes made side by side from the creation each added one proposal under the limit)
  const together = wholeRefusal(shadow.state)
  if (together !== undefined) return refused(together)
  slot?.set(shadow)
  return { ok: true, fresh: fresh.length }
}

/** Why the change from `before` to `after` sets standing terms that the merged document already holds. */
function setsStandingTerms(before: unknown, after: unknown, merged: unknown): string | undefined {
  const added = (at(after, ['log']) as unknown[] | undefined)?.slice(
    ((at(before, ['log']) as unknown[] | undefined) ?? []).length
  )
  if (!(added ?? []).some((e) => at(e, ['kind']) === 'terms-set')) return undefined
  const was = (at(before, ['terms']) ?? {}) as Record<string, unknown>
  const now = (at(after, ['terms']) ?? {}) as Record<string, unknown>
  for (const k of Object.keys(now))
    if (was[k] === undefined && at(merged, ['terms', k]) !== undefined)
      return 'it sets standing terms that are set already'
  return undefined
}

/** Why the merged document breaks a bound no single step may break, if it does. */
function wholeRefusal(state: unknown): string | undefined {
  const proposals = at(state, ['proposals'])
  if (proposals !== null && typeof proposals === 'object' && Object.keys(proposals).length > MAX_PROPOSALS)
    return `more than ${MAX_PROPOSALS} proposals once merged`
  const parties = [at(state, ['tally', 'initiatorPeerId']), at(state, ['tally', 'respondentPeerId'])]
  for (const party of parties)
    if (typeof party === 'string' && proposalsBy(proposals, party) > MAX_PROPOSALS_PER_PARTY)
      return `more than ${MAX_PROPOSALS_PER_PARTY} proposals of one party once merged`
  try {
    checkTerms(at(state, ['terms']) ?? {})
  } catch {
    return 'terms out of bounds once merged'
  }
  return undefined
}

/**
 * Why `patches` change the document's shape in a way no negotiation step does, if they do: replacing a
 * map or list that exists (a concurrent write of the other party inside it would vanish in the merge), or
 * writing a counter (its increments merge by adding, not as a step).
 */
function shapeRefusal(before: unknown, patches: readonly Patch[]): string | undefined {
  for (const p of patches) {
    if (p.action === 'inc') return 'it increments a counter'
    if (p.action !== 'put' && p.action !== 'insert') continue
    const values = p.action === 'put' ? [p.value] : p.values
    if (values.some((v) => v instanceof Counter)) return 'it writes a counter'
    if (p.action === 'put') {
      const was = at(before, p.path)
      if (was !== null && typeof was === 'object') return 'it replaces a whole map or list of the document'
    }
  }
  return undefined
}

/** How many operations `patches` take at least: one per value put, inserted, deleted or typed. */
function visibleUnits(patches: readonly Patch[]): number {
  let n = 0
  for (const p of patches) {
    switch (p.action) {
      case 'put':
        // a new text is one operation and one per character; any other value one
        n += typeof p.value === 'string' ? 1 + p.value.length : 1
        break
      case 'inc':
        n += 1
        break
      case 'del':
        n += p.length ?? 1
        break
      case 'insert':
        n += p.values.reduce<number>((k, v) => k + (typeof v === 'string' ? 1 + v.length : 1), 0)
        break
      case 'splice':
        n += p.value.length
        break
      default:
        break
    }
  }
  return n
}

/** `changes` with each after the changes it depends on (those among them). */
function causalOrder<T extends { hash: string; deps: string[] }>(changes: T[]): T[] {
  const byHash = new Map(changes.map((c) => [c.hash, c]))
  const done = new Set<string>()
  const out: T[] = []
  const visit = (c: T): void => {
    // iterative over a chain: a message may carry a thousand changes in a row
    const stack: Array<{ c: T; i: number }> = [{ c, i: 0 }]
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      if (done.has(top.c.hash)) {
        stack.pop()
        continue
      }
      const dep = top.c.deps[top.i++]
      if (dep === undefined) {
        done.add(top.c.hash)
        out.push(top.c)
        stack.pop()
        continue
      }
      const d = byHash.get(dep)
      if (d !== undefined && !done.has(d.hash)) stack.push({ c: d, i: 0 })
    }
  }
  for (const c of changes) visit(c)
  return out
}

function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  const set = new Set(a)
  return b.every((h) => set.has(h))
}

/** Vet a whole document `author` handed over (every change in it is the author's). */
export function vetDocument(bytes: Uint8Array, author: string, limits: VetLimits = VET_LIMITS): Vetted {
  const tooLarge = documentTooLarge(bytes, limits)
  if (tooLarge !== undefined) return refused(tooLarge)
  let doc: Doc<unknown>
  try {
    doc = loadIncremental(init(), bytes)
  } catch {
    return refused('a document that does not load')
  }
  return vetReplica(doc, author, limits)
}

/** Why `bytes` (a document handed over whole) are too much to load, if they are. */
export function documentTooLarge(bytes: Uint8Array, limits: VetLimits = VET_LIMITS): string | undefined {
  if (bytes.byteLength > limits.maxDocumentBytes) return `a document of ${bytes.byteLength} bytes`
  const rows = chunkRows(bytes, limits.maxDocumentBytes * 16)
  if (typeof rows === 'string') return rows
  return rows > limits.maxDocumentOps ? `a document of ${rows} operations` : undefined
}

/** vetDocument for a document already loaded (`doc`: nothing in it is ours yet). */
export function vetReplica(doc: Doc<unknown>, author: string, limits: VetLimits = VET_LIMITS): Vetted {
  const changes = getAllChanges(doc)
  const only = changes.length === 1 ? changes[0] : undefined
  if (only === undefined) return vetChanges(init(), changes, author, limits)
  // the usual one, a new tally's creation alone: read from the document itself (a copy and two views
  // of it cost 2.6 ms, this 0.1 ms)
  if (only.byteLength > limits.maxChangeBytes) return refused(`a change of ${only.byteLength} bytes`)
  if (decodeChange(only).startOp !== 1)
    return refused('a change whose operation counter does not follow its history')
  const reason = changeRefusal({}, plain(doc), author)
  return reason === undefined ? { ok: true, fresh: 1 } : refused(reason)
}

/**
 * The changes in `blobs`: the first sync message of a session (Automerge 3: the peer named no last sync)
 * carries the document whole, as one document chunk (chunk type 0, after the 4-byte magic and 4-byte checksum), the others one change each.
 */
function expand(blobs: Uint8Array[]): Uint8Array[] | string {
  if (!blobs.some(isDocumentChunk)) return blobs
  const out: Uint8Array[] = []
  for (const blob of blobs) {
    if (!isDocumentChunk(blob)) {
      out.push(blob)
      continue
    }
    // measured already (messageRefusal): loading it costs at most a whole document's operations
    try {
      out.push(...getAllChanges(loadIncremental(init(), blob)))
    } catch {
      return 'a document that does not load'
    }
  }
  return out
}

/**
 * Why a message's changes are too much to take up at all: too many (copies of changes we hold count too),
 * more than one whole document, or more operations in all than a whole document may hold.
 */
function messageRefusal(blobs: Uint8Array[], limits: VetLimits): string | undefined {
  if (blobs.length > limits.maxFreshChanges) return `more than ${limits.maxFreshChanges} changes at once`
  let documents = 0
  let total = 0
  // all the message's deflated chunks and columns together inflate to at most 4 times a document
  const inflation = new InflateBudget(limits.maxDocumentBytes * 4)
  for (const blob of blobs) {
    const whole = isDocumentChunk(blob)
    if (whole && ++documents > 1) return 'more than one whole document at once'
    const most = whole ? limits.maxDocumentBytes : limits.maxChangeBytes
    if (blob.byteLength > most) return `a ${whole ? 'document' : 'change'} of ${blob.byteLength} bytes`
    // a deflated change or column may grow to 4 times the bound a change has, not more
    const rows = chunkRows(blob, (whole ? limits.maxDocumentBytes : limits.maxChangeBytes) * 4, inflation)
    if (typeof rows === 'string') return rows
    if (rows > (whole ? limits.maxDocumentOps : limits.maxChangeOps))
      return `a ${whole ? 'document' : 'change'} of ${rows} operations`
    total += rows
    if (total > limits.maxDocumentOps) return `more than ${limits.maxDocumentOps} operations at once`
  }
  return undefined
}

function isDocumentChunk(blob: Uint8Array): boolean {
  return blob.byteLength > 8 && blob[8] === 0
}

function refused(reason: string): Vetted {
  return { ok: false, retry: false, reason }
}

/** A document view as plain JSON (scalar strings as strings), what the rules read. */
function plain(doc: Doc<unknown>): unknown {
  return JSON.parse(JSON.stringify(doc)) as unknown
}
