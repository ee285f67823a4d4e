/**
 * The proposer's side of an agreement: an acceptance of one of our proposals counts once we confirm it
 * (protocol.md, "The shared tally database"), and this node confirms each as soon as it holds it and knows
 * of no closing that crossed it, whether it came live, before a restart, or through another node of a cadre.
 */
import type { DocHandle } from '@automerge/automerge-repo'
import { acceptancesToConfirm, confirmAcceptance, docView } from './tally-document.ts'
import type { StoredTallyDoc } from './tally-document.ts'

/** What Confirmations needs of its TallyDb. */
export interface ConfirmationsParts {
  localPeerId(): string
  now(): number
  closed(): boolean
  /** Make a local change to the tally's document (on disk, then offered to the counterparty). */
  change(tallyId: string, fn: (doc: StoredTallyDoc) => void): Promise<void>
}

/** Confirms the acceptances of this node's proposals, one tally at a time. */
export class Confirmations {
  readonly #p: ConfirmationsParts
  /** Tallies being confirmed now, and whether a change came meanwhile (look again after). */
  readonly #running = new Map<string, { again: boolean }>()

  constructor(parts: ConfirmationsParts) {
    this.#p = parts
  }

  /** The document of `tallyId` changed or was loaded: confirm what awaits us in it. */
  due(tallyId: string, handle: DocHandle<StoredTallyDoc>): void {
    if (this.#p.closed()) return
    const running = this.#running.get(tallyId)
    if (running !== undefined) {
      running.again = true
      return
    }
    if (!handle.isReady() || acceptancesToConfirm(handle.doc(), this.#p.localPeerId()).length === 0) return
    const state = { again: false }
    this.#running.set(tallyId, state)
    void this.#confirm(tallyId, handle).finally(() => {
      this.#running.delete(tallyId)
      if (state.again) this.due(tallyId, handle)
    })
  }

  async #confirm(tallyId: string, handle: DocHandle<StoredTallyDoc>): Promise<void> {
    const me = this.#p.localPeerId()
    for (const proposalId of acceptancesToConfirm(handle.doc(), me)) {
      if (this.#p.closed()) return
      const at = new Date(this.#p.now()).toISOString()
      // a change that came meanwhile may have closed it (confirmAcceptance throws, nothing is written); a
      // failed write is tried again at the document's next change or load, not in a loop here
      await this.#p.change(tallyId, (d) => confirmAcceptance(d, proposalId, me, at)).catch(() => {})
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
