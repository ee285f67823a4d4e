/**
 * A tally document's first state, derived (bootstrap 1.3.0): a pure function of what both parties hold
 * once the bootstrap is done (the draft tally, the provisioner's PeerId, the standing terms in the frame's
 * seed), so each side makes the same change, byte for byte, when it first needs it. Automerge checks a
 * change against its hash when it loads it, so it encodes a change canonically: the same operations by the
 * same actor at the same time are the same bytes. The actor is derived from the tally id and is used for
 * this one change only (a document loaded later writes under an actor of its own).
 */
import { createHash } from 'node:crypto'
import { getBackend, init } from '@automerge/automerge'
import { LIMITS } from '../bootstrap/messages.ts'
import type { DraftTally } from '../bootstrap/types.ts'
import { ProposalError } from './errors.ts'
import { checkTerms, initialDoc } from './tally-document.ts'
import type { StringForm, TallyTerms } from './tally-document.ts'

/** What a tally's first state is made from; kept in its index entry instead of the bytes. */
export interface FirstSeed {
  tally: DraftTally
  /** The standing terms the provisioner wrote into it (checked: checkTerms' order). */
  terms: TallyTerms
  /** The provisioner's PeerId. */
  by: string
  form: StringForm
}

/** Tag of the first change's actor id: another version of this derivation would change it. */
const ACTOR_TAG = 'taleus/tallydb/first-actor/1\u0000'

/** An empty document's engine, forked for each first state (a fork costs less than init()). */
let emptyEngine: ReturnType<typeof getBackend> | undefined

/** The actor of a tally's first change: the first 16 bytes of SHA-256 over a tag and the tally id, hex. */
export function firstActor(tallyId: string): string {
  return createHash('sha256')
    .update(ACTOR_TAG, 'utf8')
    .update(tallyId, 'utf8')
    .digest()
    .subarray(0, 16)
    .toString('hex')
}

/** The commit time of a first change: the tally's creation, in whole seconds; ProposalError when it is no time. */
export function firstCommitTime(tally: DraftTally): number {
  const ms = Date.parse(tally.createdAt)
  if (!Number.isFinite(ms)) throw new ProposalError('the tally has no valid creation time')
  return Math.floor(ms / 1000)
}

/**
 * The first state of the document `seed` describes, as bytes (one change chunk, uncompressed). Made on
 * the engine itself, without a JavaScript copy of the document (only the bytes are kept).
 */
export function firstStateBytes(seed: FirstSeed): Uint8Array {
  const time = firstCommitTime(seed.tally)
  emptyEngine ??= getBackend(init())
  const engine = emptyEngine.fork(firstActor(seed.tally.tallyId))
  try {
    // fields in one order whatever order the caller's objects hold them in: the order of the operations is
    // part of the bytes
    const { tallyId, createdBy, initiatorPeerId, respondentPeerId, createdAt } = seed.tally
    const tally = { tallyId, createdBy, initiatorPeerId, respondentPeerId, createdAt }
    engine.initRootFromHydrate(initialDoc(tally, checkTerms(seed.terms), seed.by, createdAt, seed.form))
    engine.commit(null, time)
    return engine.saveSince([])
  } finally {
    // the bytes are all we keep: give the engine's memory back now rather than at the next GC
    engine.free()
  }
}

/** The frame's seed (dbConnectionInfo.document.seed) for a first state made with `terms`. */
export function seedText(terms: TallyTerms): string {
  return JSON.stringify({ terms })
}

/** The standing terms a frame's seed states; ProposalError when it is not a seed of this version. */
export function seedTerms(text: string): TallyTerms {
  let parsed: unknown
  try {
    parsed = text.length > LIMITS.documentSeed ? undefined : JSON.parse(text)
  } catch {
    parsed = undefined
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ProposalError('the document seed is not a JSON object')
  const { terms, ...rest } = parsed as { terms?: unknown }
  if (Object.keys(rest).length > 0) throw new ProposalError(`the document seed has unknown fields`)
  return checkTerms(terms ?? {})
}

/** True when `value` is a FirstSeed as an index entry keeps it (the shape only; its fields are rechecked when used). */
export function isFirstSeed(value: unknown): value is FirstSeed {
  if (value === null || typeof value !== 'object') return false
  const s = value as Partial<FirstSeed>
  return (
    s.tally !== null &&
    typeof s.tally === 'object' &&
    typeof s.tally.tallyId === 'string' &&
    typeof s.tally.createdAt === 'string' &&
    s.terms !== null &&
    typeof s.terms === 'object' &&
    typeof s.by === 'string' &&
    (s.form === 'scalar' || s.form === 'text')
  )
}
