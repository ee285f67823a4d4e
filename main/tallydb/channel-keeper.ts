/**
 * When a tally document's channel to its counterparty opens. The opener dials the provisioner and opens
 * the document with its sealed grant; the provisioner dials the opener's cadre addresses (invite), and
 * the opener, seeing the channel, opens its documents on it. One attempt per tally at a time; every
 * background attempt ends when the database closes.
 */
import type { DocumentId } from '@automerge/automerge-repo'
import { invite, openAt } from './counterparty-reach.ts'
import { openGrant } from './grant.ts'
import { SealedGrantError } from './errors.ts'
import type { Libp2pNetworkAdapter } from './libp2p-adapter.ts'
import type { IndexEntry } from './tally-index.ts'
import type { TallyIndexStore } from './backend-types.ts'

/** Opener documents reconnected at once (a restart with many tallies must not dial them all together). */
const RECONNECT_CONCURRENCY = 4
/** Longest a local change waits in the background for its channel to the counterparty. */
const OFFER_WAIT_MS = 10_000
/** First wait before the periodic reconnect tries a counterparty again that it could not reach. */
const RETRY_FIRST_MS = 30_000
/**
 * Longest such wait: a counterparty gone for good (or a stranger that named addresses of someone else's
 * host in its tallies) is tried a few times a day, not every round, however many tallies name it.
 */
const RETRY_MAX_MS = 6 * 3_600_000

/** How the periodic reconnect stands with one counterparty it could not reach. */
interface Unreached {
  failures: number
  /** Epoch ms before which the periodic reconnect leaves it alone. */
  nextAt: number
}

/** What the keeper uses of its TallyDb. */
export interface ChannelKeeperParts {
  adapter: Libp2pNetworkAdapter
  index: TallyIndexStore
  grantKey: Uint8Array
  /** Aborted when the database closes. */
  closing: AbortSignal
  /** Clock (tests). Default Date.now. */
  now?: () => number
  /** The opener's channel carries the document now: let the repo sync it on that channel. */
  opened: (entry: IndexEntry) => Promise<void>
}

/** Opens tally documents' channels on demand, after local changes and on reconnects. */
export class ChannelKeeper {
  readonly #p: ChannelKeeperParts
  readonly #syncing = new Map<string, Promise<boolean>>()
  /** Counterparties the periodic reconnect could not reach, by peer id (gone once one is reached). */
  readonly #unreached = new Map<string, Unreached>()
  readonly #now: () => number

  constructor(parts: ChannelKeeperParts) {
    this.#p = parts
    this.#now = parts.now ?? Date.now
  }

  /** True when a live channel carries the document of `entry`. */
  isOpen(entry: IndexEntry): boolean {
    return this.#p.adapter.isOpen(entry.counterpartyPeerId, entry.documentId as DocumentId)
  }

  /** Open the channel of `entry` (the attempt already running for it, if any); true once it carries it. */
  async sync(entry: IndexEntry, signal?: AbortSignal): Promise<boolean> {
    if (this.isOpen(entry)) return true
    let running = this.#syncing.get(entry.tallyId)
    if (running === undefined) {
      running = (
        entry.provisioner
          ? invite(this.#p.adapter, entry, () => this.#p.closing.aborted, signal)
          : this.#reopen(entry, signal)
      )
        .catch(() => false)
        .finally(() => this.#syncing.delete(entry.tallyId))
      this.#syncing.set(entry.tallyId, running)
    }
    return running
  }

  /** sync() for a caller that must hear why not: SealedGrantError when the grant it keeps cannot be unsealed. */
  async syncOrExplain(entry: IndexEntry, signal?: AbortSignal): Promise<boolean> {
    // a node restarted with another secret would otherwise stay unsynced without a word
    const sealed = entry.provisioner ? undefined : entry.sealedGrant
    if (sealed !== undefined && openGrant(this.#p.grantKey, entry.tallyId, sealed) === undefined)
      throw new SealedGrantError()
    return this.sync(entry, signal)
  }

  /** A local change: it travels at once on an open channel; else open one in the background. */
  offer(entry: IndexEntry): void {
    if (this.isOpen(entry) || this.#p.closing.aborted) return
    void this.sync(entry, AbortSignal.any([this.#p.closing, AbortSignal.timeout(OFFER_WAIT_MS)]))
  }

  /**
   * Reconnect opener documents (all, or those of one provisioner), a few at a time, in the background.
   * A round for all leaves out the counterparties it failed to reach until their wait is over (doubling
   * from 30 s to 6 h); one that connected to us (`peer`) is tried at once.
   */
  reconnect(peer?: string): void {
    if (this.#p.closing.aborted) return
    if (peer !== undefined) this.#unreached.delete(peer)
    const waiting = (e: IndexEntry): boolean =>
      (this.#unreached.get(e.counterpartyPeerId)?.nextAt ?? 0) > this.#now()
    const due = this.#p.index.opened(peer).filter((e) => !this.isOpen(e) && !waiting(e))
    const next = async (): Promise<void> => {
      for (let e = due.shift(); e !== undefined && !this.#p.closing.aborted; e = due.shift()) {
        // another of its tallies failed in this round: its peer is not there either
        if (waiting(e)) continue
        const reached = await this.sync(e, this.#p.closing).catch(() => false)
        if (this.#p.closing.aborted) return
        if (reached) this.#unreached.delete(e.counterpartyPeerId)
        else this.#failed(e.counterpartyPeerId)
      }
    }
    for (let i = 0; i < RECONNECT_CONCURRENCY; i++) void next()
  }

  #failed(peer: string): void {
    const failures = (this.#unreached.get(peer)?.failures ?? 0) + 1
    const wait = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(failures - 1, 20))
    this.#unreached.set(peer, { failures, nextAt: this.#now() + wait })
  }

  /** Resolves once every attempt under way has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#syncing.values()])
  }

  async #reopen(entry: IndexEntry, signal?: AbortSignal): Promise<boolean> {
    const { adapter, grantKey } = this.#p
    const grant =
      entry.sealedGrant === undefined ? undefined : openGrant(grantKey, entry.tallyId, entry.sealedGrant)
    if (grant === undefined) return false
    try {
      await openAt(adapter, entry.tallyId, entry.counterpartyPeerId, entry.nodes ?? [], grant, signal)
    } catch {
      return false
    }
    await this.#p.opened(entry)
    return true
  }
}
