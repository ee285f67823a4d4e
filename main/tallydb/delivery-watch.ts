/**
 * Whether the counterparty holds our changes: the heads its own sync messages name (automerge-repo's
 * `sync-state`), against the changes this node held when it asked. What TallyDb.delivered waits for.
 */
import { getChangesMetaSince, getHeads, hasHeads } from '@automerge/automerge'
import type { Doc, Heads } from '@automerge/automerge'
import type { Repo } from '@automerge/automerge-repo'

/** The counterparty's last named heads per document, and who waits for them to move. */
export class DeliveryWatch {
  readonly #theirs = new Map<string, { peer: string; heads: Heads }>()
  readonly #waiters = new Map<string, Set<() => void>>()

  constructor(repo: Repo) {
    repo.synchronizer.on('sync-state', ({ documentId, peerId, syncState }) => {
      if (syncState.theirHeads == null) return
      this.#theirs.set(documentId, { peer: peerId, heads: syncState.theirHeads })
      for (const wake of this.#waiters.get(documentId) ?? []) wake()
    })
  }

  /** True when `peer` said it holds every change `ours` names (`doc`: this node's replica now). */
  holds(documentId: string, peer: string, doc: Doc<unknown>, ours: Heads): boolean {
    const said = this.#theirs.get(documentId)
    if (said === undefined || said.peer !== peer) return false
    // their heads name changes we do not hold yet: wait for them, then judge
    if (!hasHeads(doc, said.heads)) return false
    const notTheirs = new Set(getChangesMetaSince(doc, said.heads).map((c) => c.hash))
    return ours.every((h) => !notTheirs.has(h))
  }

  /**
   * True once `peer` holds every change `doc()` holds now: at once when its last sync message said so, else
   * after `sync` opened a channel and its sync messages say so; false when unreachable or `signal` aborts.
   */
  async delivered(
    documentId: string,
    peer: string,
    doc: () => Doc<unknown>,
    sync: () => Promise<boolean>,
    signal: AbortSignal
  ): Promise<boolean> {
    const ours = getHeads(doc())
    if (this.holds(documentId, peer, doc(), ours)) return true
    if (!(await sync())) return false
    return this.wait(documentId, peer, doc, ours, signal)
  }

  /** Resolves true once holds() is true; false when `signal` aborts first. */
  async wait(
    documentId: string,
    peer: string,
    doc: () => Doc<unknown>,
    ours: Heads,
    signal: AbortSignal
  ): Promise<boolean> {
    if (this.holds(documentId, peer, doc(), ours)) return true
    if (signal.aborted) return false
    const waiters = this.#waiters.get(documentId) ?? new Set<() => void>()
    this.#waiters.set(documentId, waiters)
    let wake = (): void => {}
    let abort = (): void => {}
    try {
      return await new Promise<boolean>((resolve) => {
        wake = () => {
          if (this.holds(documentId, peer, doc(), ours)) resolve(true)
        }
        abort = () => resolve(false)
        waiters.add(wake)
        signal.addEventListener('abort', abort, { once: true })
      })
    } finally {
      waiters.delete(wake)
      if (waiters.size === 0) this.#waiters.delete(documentId)
      signal.removeEventListener('abort', abort)
    }
  }
}
