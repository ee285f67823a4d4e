/**
 * The steps a node owes the agreement rule (protocol.md, "The shared tally database"): as the proposer, it
 * confirms an acceptance of its proposal as soon as it holds it and knows of no closing that crossed it; as
 * the acceptor, it retracts its unconfirmed acceptance once it learns that its proposer's closing crossed
 * it. Whether the acceptance came live, before a restart, or through another node of a cadre.
 */
import type { DocHandle } from '@automerge/automerge-repo'
import { acceptanceStepsDue, confirmAcceptance, retractAcceptance } from './agreement-steps.ts'
import { docView } from './doc-view.ts'
import type { StoredTallyDoc } from './tally-document.ts'

/** What Confirmations needs of its TallyDb. */
export interface ConfirmationsParts {
  localPeerId(): string
  now(): number
  closed(): boolean
  /** Make a local change to the tally's document (on disk, then offered to the counterparty). */
  change(tallyId: string, fn: (doc: StoredTallyDoc) => void): Promise<void>
}

/** Makes the confirmations and retractions this node owes, one tally at a time. */
export class Confirmations {
  readonly #p: ConfirmationsParts
  /** Tallies whose steps are being made now, and whether a change came meanwhile (look again after). */
  readonly #running = new Map<string, { again: boolean }>()

  constructor(parts: ConfirmationsParts) {
    this.#p = parts
  }

  /** The document of `tallyId` changed or was loaded: make the steps it awaits of us. */
  due(tallyId: string, handle: DocHandle<StoredTallyDoc>): void {
    if (this.#p.closed()) return
    const running = this.#running.get(tallyId)
    if (running !== undefined) {
      running.again = true
      return
    }
    if (!handle.isReady() || acceptanceStepsDue(handle.doc(), this.#p.localPeerId()).length === 0) return
    const state = { again: false }
    this.#running.set(tallyId, state)
    void this.#make(tallyId, handle).finally(() => {
      this.#running.delete(tallyId)
      if (state.again) this.due(tallyId, handle)
    })
  }

  async #make(tallyId: string, handle: DocHandle<StoredTallyDoc>): Promise<void> {
    const me = this.#p.localPeerId()
    for (const { proposalId, step } of acceptanceStepsDue(handle.doc(), me)) {
      if (this.#p.closed()) return
      const at = new Date(this.#p.now()).toISOString()
      const make = step === 'confirm' ? confirmAcceptance : retractAcceptance
      // a change that came meanwhile may have settled it (make throws, nothing is written); a failed
      // write is tried again at the document's next change or load, not in a loop here
      await this.#p.change(tallyId, (d) => make(d, proposalId, me, at)).catch(() => {})
    }
  }
}

/**
 * Resolves true once `proposalId`'s acceptance counts in `handle`'s document (its proposer confirmed it,
 * and the confirmation is here); false once the proposal reads closed, or when `signal` aborts first.
 */
export async function agreementSettled(
  handle: DocHandle<StoredTallyDoc>,
  proposalId: string,
  signal: AbortSignal
): Promise<boolean> {
  const verdict = (): boolean | undefined => {
    const status = docView(handle.doc()).proposals.find((p) => p.proposalId === proposalId)?.status
    if (status === 'accepted') return true
    return status === 'withdrawn' || status === 'declined' || status === 'superseded' ? false : undefined
  }
  const now = verdict()
  if (now !== undefined) return now
  if (signal.aborted) return false
  let onChange = (): void => {}
  let onAbort = (): void => {}
  try {
    return await new Promise<boolean>((resolve) => {
      onChange = () => {
        const v = verdict()
        if (v !== undefined) resolve(v)
      }
      onAbort = () => resolve(false)
      handle.on('change', onChange)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  } finally {
    handle.off('change', onChange)
    signal.removeEventListener('abort', onAbort)
  }
}
