/**
 * A tally document's first state as a provisioner before bootstrap 1.3.0 made it: under a fresh random
 * actor, at the time it was made (1.3.0 derives it: main/tallydb/first-state.ts). Tests use it for documents
 * handed over as bytes, and wherever two first states of one tally must differ.
 */
import { getBackend, init } from '@automerge/automerge'
import type { DraftTally } from '../../main/bootstrap/types.ts'
import { initialDoc } from '../../main/tallydb/tally-document.ts'
import type { StringForm, TallyTerms } from '../../main/tallydb/tally-document.ts'

/** An empty document's engine, forked for each new document (see newDocumentBytes). */
let emptyEngine: ReturnType<typeof getBackend> | undefined

/**
 * A new tally's document as bytes: the one change Automerge's from() makes, uncompressed (deflate costs
 * more than it saves here). Made on the engine itself, without from()'s JavaScript copy of the document
 * (nobody reads it: only the bytes are kept), which costs a provisioner a third less; and on a fork of
 * one empty engine (a fresh actor each) rather than init(), whose JavaScript view and datatype
 * registration cost half of what is left.
 */
export function newDocumentBytes(
  tally: DraftTally,
  terms: TallyTerms,
  by: string,
  at: string,
  form: StringForm = 'scalar'
): Uint8Array {
  emptyEngine ??= getBackend(init())
  const engine = emptyEngine.fork()
  try {
    engine.initRootFromHydrate(initialDoc(tally, terms, by, at, form))
    engine.commit(null, Math.floor(Date.parse(at) / 1000))
    return engine.saveSince([])
  } finally {
    // the bytes are all we keep: give the engine's memory back now rather than at the next GC
    engine.free()
  }
}
