/**
 * The opener's judgement of the document its provisioner hands over (in the bootstrap frame) or sends
 * when it opens it with the grant: whether it is this tally, whether every change in it is one the
 * provisioner may make, and, where the opener brings the standing terms (foil), that it states none.
 */
import type { DraftTally } from '../bootstrap/types.ts'
import { vetDocument, vetReplica } from './change-vetting.ts'
import { docOf, isDocOf } from './doc-bytes.ts'
import { GrantRefusedError, RefusedChangeError } from './errors.ts'
import type { StoredTallyDoc } from './tally-document.ts'
import type { FirstSeed } from './first-state.ts'

/** What the opener holds of the provisioner's document when it judges it. */
export interface Handed {
  tally: DraftTally
  provisionerPeerId: string
  /** Its bytes, when it came whole (frame or open reply). */
  snapshot: Uint8Array | undefined
  /** The document as the Repo loaded it, when it did. */
  loaded: StoredTallyDoc | undefined
  /** True when it came in the bootstrap frame (kept as bytes, its identity checked at first load). */
  inFrame: boolean
  /** True when its changes are judged now (loaded, or bound for a shared storage); else at first load. */
  judgeNow: boolean
  /** True when the opener brings the standing terms (foil: its token's). */
  standingTerms: boolean
}

/** The error to refuse the handed document with, or undefined when the opener may take it. */
export function handedRefusal(h: Handed): Error | undefined {
  const bytesDoc = (): StoredTallyDoc | undefined => docOf(h.snapshot)
  // this tally between these two parties (bytes from the frame: at their first load)
  if ((h.loaded !== undefined || !h.inFrame) && !isDocOf(h.loaded ?? bytesDoc(), h.tally))
    return new GrantRefusedError('the document is not this tally')
  if (h.judgeNow) {
    const vetted =
      h.loaded !== undefined && h.snapshot !== undefined
        ? vetReplica(h.loaded, h.provisionerPeerId)
        : h.snapshot !== undefined
          ? vetDocument(h.snapshot, h.provisionerPeerId)
          : undefined
    if (vetted?.ok === false) return new RefusedChangeError(vetted.reason)
  }
  // the opener's standing terms only fill what is unset: a document made with terms would keep terms
  // this node never offered
  if (h.standingTerms) {
    const made = h.loaded ?? bytesDoc()
    if (made === undefined || Object.keys(made.terms).length > 0) return new RefusedChangeError(PRESET_TERMS)
  }
  return undefined
}

/**
 * The error to refuse a derived first state with (1.3.0: the seed is all the provisioner chose), or
 * undefined: where the opener brings the standing terms, the seed must state none.
 */
export function derivedRefusal(first: FirstSeed, standingTerms: boolean): Error | undefined {
  return standingTerms && Object.keys(first.terms).length > 0
    ? new RefusedChangeError(PRESET_TERMS)
    : undefined
}

const PRESET_TERMS = 'it sets terms before this node stated its standing terms'
