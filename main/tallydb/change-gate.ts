/**
 * The adapter's `vet` for a TallyDb: whether the changes a document message brings may reach the repo
 * (change-vetting.ts), judged against our own replica, in the counterparty's name.
 */
import { init } from '@automerge/automerge'
import type { Doc } from '@automerge/automerge'
import { VET_LIMITS, syncMessageOf, vetChanges } from './change-vetting.ts'
import type { Shadow, ShadowSlot, Vetted } from './change-vetting.ts'
import type { TallyIndexStore } from './backend-types.ts'
import type { IndexEntry } from './tally-index.ts'

/** What a ChangeGate reads and whom it tells. */
export interface ChangeGateInit {
  index: TallyIndexStore
  /** Our replica of an indexed tally's document (loaded and checked). */
  replica(entry: IndexEntry): Promise<Doc<unknown>>
  /** The repo's copy of a document not indexed yet (a 1.0.0 open in progress), if it holds one. */
  pending(documentId: string): Promise<Doc<unknown> | undefined>
  /** A shared backend: take up what the cadre's other nodes stored (their changes are ours, not the peer's). */
  refresh?(): Promise<void>
  refused(tallyId: string | undefined, peer: string, vetted: Extract<Vetted, { ok: false }>): void
  /** New changes of the counterparty were taken (a refusal before them is behind us). */
  taken?(tallyId: string): void
  now?: () => number
}

/**
 * After a refusal, how long the same peer's changes to the same document are refused unread: a forged
 * change stays in the sender's copy, so it comes back with every sync, each costing a judgement.
 */
const REFUSED_FOR_MS = 30_000
/** After an incomplete message (a change whose dependencies had not arrived): a fresh sync comes later. */
const RETRY_AFTER_MS = 5_000
/** Pairs of (document, peer) remembered as refused at most (the oldest are forgotten first). */
const MAX_REMEMBERED = 4096

/** Documents whose Shadow is kept (the most recently judged). */
const MAX_SHADOWS = 16

/** Decides whether a document message's changes may reach the repo. */
export class ChangeGate {
  readonly #init: ChangeGateInit
  /** `documentId peer` → until when its changes are refused unread (insertion order: oldest first). */
  readonly #refusedUntil = new Map<string, number>()
  /** What the vetting knew of each document after its last judged message (plain-patches.ts says why). */
  readonly #shadows = new Map<string, Shadow>()

  constructor(init: ChangeGateInit) {
    this.#init = init
  }

  /** True when every change `data` (a sync message from `remotePeer`) brings may be taken. */
  async vet(documentId: string, data: Uint8Array, remotePeer: string): Promise<boolean> {
    const message = syncMessageOf(data)
    const tallyId = this.#init.index.tallyOf(documentId)
    if (message === undefined) {
      this.#init.refused(tallyId, remotePeer, { ok: false, retry: false, reason: 'not a sync message' })
      return false
    }
    const { changes } = message
    const key = `${documentId} ${remotePeer}`
    // most messages are heads and bloom filters: nothing to judge
    if (changes.length === 0) return true
    const entry = tallyId === undefined ? undefined : this.#init.index.get(tallyId)
    if (entry !== undefined && entry.counterpartyPeerId !== remotePeer) return false
    const until = this.#refusedUntil.get(key)
    if (until !== undefined && until > this.#now()) return false
    const judge = async (): Promise<Vetted> => {
      const base =
        entry !== undefined ? await this.#init.replica(entry) : await this.#init.pending(documentId)
      return vetChanges(base ?? init(), changes, remotePeer, VET_LIMITS, this.#slot(documentId))
    }
    const unloaded = (): Vetted => ({ ok: false, retry: true, reason: 'our replica did not load' })
    let vetted = await judge().catch(unloaded)
    // another node of the cadre may have made the change and the peer relayed it before our storage told us
    if (!vetted.ok && !vetted.retry && this.#init.refresh !== undefined) {
      await this.#init.refresh().catch(() => {})
      vetted = await judge().catch(unloaded)
    }
    if (vetted.ok) {
      if (vetted.fresh > 0 && tallyId !== undefined) this.#init.taken?.(tallyId)
      return true
    }
    // a retry (dependencies missing) is not wrong, but costs the same judgement if repeated at once
    this.#remember(key, vetted.retry ? RETRY_AFTER_MS : REFUSED_FOR_MS)
    this.#init.refused(tallyId, remotePeer, vetted)
    return false
  }

  #slot(documentId: string): ShadowSlot {
    return {
      get: () => this.#shadows.get(documentId),
      set: (shadow) => {
        this.#shadows.delete(documentId)
        this.#shadows.set(documentId, shadow)
        for (const old of this.#shadows.keys()) {
          if (this.#shadows.size <= MAX_SHADOWS) break
          this.#shadows.delete(old)
        }
      }
    }
  }

  #remember(key: string, forMs: number): void {
    this.#refusedUntil.delete(key)
    this.#refusedUntil.set(key, this.#now() + forMs)
    for (const old of this.#refusedUntil.keys()) {
      if (this.#refusedUntil.size <= MAX_REMEMBERED) break
      this.#refusedUntil.delete(old)
    }
  }

  #now(): number {
    return this.#init.now?.() ?? Date.now()
  }
}
