/**
 * Warming the document engine. Automerge runs as WebAssembly, which V8 first runs through its baseline
 * compiler and optimises function by function only once they are hot: in a fresh process, creating and
 * loading a tally's document costs 2–10 ms for about the first hundred tallies and 0.5 ms afterwards. A
 * node that serves a rush pays that once, in the background at start, instead of in its first customers'
 * bootstraps.
 */
import { setTimeout as delay } from 'node:timers/promises'
import { free, init, loadIncremental } from '@automerge/automerge'
import { firstStateBytes } from './first-state.ts'

/** Rounds of create, save and load: enough for V8 to optimise the functions a bootstrap uses. */
const ROUNDS = 200
const SAMPLE_PEER = '12D3KooWQm1aZc5x3DWu3Dm8WgRd4R2QPbbgdrGfvm2mXJbEPR8W'

let warming: Promise<void> | undefined

/**
 * Warm the engine once per process, in the background (a round per macrotask), starting `afterMs` from
 * now; resolves when done (a later call joins the warm-up already scheduled).
 */
export function warmDocumentEngine(signal?: AbortSignal, afterMs = 0): Promise<void> {
  warming ??= run(signal, afterMs).catch(() => {
    warming = undefined
  })
  return warming
}

async function run(signal: AbortSignal | undefined, afterMs: number): Promise<void> {
  // a pending warm-up never keeps a process alive, and a close ends the wait (the loop then stops)
  if (afterMs > 0) await delay(afterMs, undefined, { ref: false, signal }).catch(() => {})
  for (let i = 0; i < ROUNDS; i++) {
    signal?.throwIfAborted()
    // one round per macrotask: a node's own work goes first
    await new Promise((resolve) => setImmediate(resolve))
    const at = new Date().toISOString()
    const bytes = firstStateBytes({
      tally: {
        tallyId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        createdBy: 'stock',
        initiatorPeerId: SAMPLE_PEER,
        respondentPeerId: SAMPLE_PEER,
        createdAt: at
      },
      terms: { unit: 'CHIP' },
      by: SAMPLE_PEER,
      form: 'scalar'
    })
    free(loadIncremental(init(), bytes))
  }
}
