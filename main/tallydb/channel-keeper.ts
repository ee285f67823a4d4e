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

/** What the keeper uses of its TallyDb. */
export interface ChannelKeeperParts {
  adapter: Libp2pNetworkAdapter
  index: TallyIndexStore
  grantKey: Uint8Array
  /** Aborted when the database closes. */
  closing: AbortSignal
  /** The opener's channel carries the document now: let the repo sync it on that channel. */
  opened: (entry: IndexEntry) => Promise<void>
}

/** Opens tally documents' channels on demand, after local changes and on reconnects. */
export class ChannelKeeper {
  readonly #p: ChannelKeeperParts
  readonly #syncing = new Map<string, Promise<boolean>>()

  constructor(parts: ChannelKeeperParts) {
    this.#p = parts
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

  /** Reconnect opener documents (all, or those of one provisioner), a few at a time, in the background. */
  reconnect(peer?: string): void {
    if (this.#p.closing.aborted) return
    const due = this.#p.index.opened(peer).filter((e) => !this.isOpen(e))
    const next = async (): Promise<void> => {
      for (let e = due.shift(); e !== undefined && !this.#p.closing.aborted; e = due.shift())
        await this.sync(e, this.#p.closing).catch(() => false)
    }
    for (let i = 0; i < RECONNECT_CONCURRENCY; i++) void next()
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
