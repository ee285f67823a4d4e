/**
 * The shared tally database of one node: an automerge-repo Repo (documents on disk in DIR/tallydb/chunks.jsonl),
 * served and reached over libp2p (Libp2pNetworkAdapter), with the index of which document is which tally.
 *
 * The provisioner creates a tally's document and serves it; the counterparty keeps a replica: from the
 * bootstrap's own frame (dbConnectionInfo.document, bootstrap 1.1.0), else opened over libp2p with the grant
 * (the dbConnectionInfo credentials). Either side reads and changes its own replica while the other is
 * offline; Automerge merges when a channel joins them again. The opener opens a channel on start, when a
 * connection to the provisioner opens, every `reconnectMs`, on sync(), and after a local change.
 */
import { randomUUID } from 'node:crypto'
import { Repo } from '@automerge/automerge-repo'
import type { DocHandle, DocumentId, PeerId as RepoPeerId } from '@automerge/automerge-repo'
import type { PeerId } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { ProposalError, RefusedChangeError, TallyDbClosedError, UnknownTallyDocumentError } from './errors.ts'
import { ChannelKeeper } from './channel-keeper.ts'
import { ChangeGate } from './change-gate.ts'
import type { Vetted } from './change-vetting.ts'
import { authorizeOpen } from './grant.ts'
import { Libp2pNetworkAdapter } from './libp2p-adapter.ts'
import type { FolderLock } from '../store/lock.ts'
import { openFolderBackend } from './folder-backend.ts'
import type { SharedChanges, TallyIndexStore, TallyStorage } from './backend-types.ts'
import { mergeAllStored, sharedChangesFor } from './shared-merge.ts'
import { warmDocumentEngine } from './warm-up.ts'
import { snapshotOf } from './doc-bytes.ts'
import type { DocumentParts } from './document-parts.ts'
import { createDocument } from './create-document.ts'
import { firstLoadRefusal, holdReplica } from './hold-replica.ts'
import { changeDocument } from './document-change.ts'
import { DeliveryWatch } from './delivery-watch.ts'
import { Confirmations, agreementSettled } from './confirmations.ts'
import type { JoinInput } from './hold-replica.ts'
import type {
  ProvisionInput,
  ProvisionedDocument,
  TallyDbEvents,
  TallyDbInit,
  TallyDocumentView
} from './tally-db-types.ts'
import type { IndexEntry } from './tally-index.ts'
import { acceptProposal, addProposal, checkTerms, closeProposal } from './tally-document.ts'
import { docView } from './doc-view.ts'
import type { StoredTallyDoc, TallyTerms, TermsProposal } from './tally-document.ts'

export type { TallyDbEvents, TallyDbInit, TallyDocumentView } from './tally-db-types.ts'
export type { JoinInput } from './hold-replica.ts'

const DEFAULT_RECONNECT_MS = 30_000

/** How long after start the document engine's warm-up begins (a merchant's first customer comes later). */
const WARM_UP_AFTER_MS = 1000

/** The shared tally database of one node. Open with TallyDb.open, then start(). */
export class TallyDb extends TypedEventEmitter<TallyDbEvents> {
  readonly #init: TallyDbInit
  readonly #index: TallyIndexStore
  readonly #adapter: Libp2pNetworkAdapter
  /**
   * Per document, the peers whose channel carried it before (a new channel is then a reopen). It grows as
   * the repo's cache of loaded documents does (far less per tally); a revoked grant drops its entry.
   */
  readonly #carriedBefore = new Map<DocumentId, Set<RepoPeerId>>()
  readonly #repo: Repo
  readonly #now: () => number
  readonly #lastSync = new Map<string, number>()
  /** The counterparty's last refused changes, by tallyId (this run, until changes of theirs are taken again). */
  readonly #refusals = new Map<string, { at: number; reason: string }>()
  readonly #watched = new Set<string>()
  /** Tallies whose document was found to be theirs since this process loaded it. */
  readonly #checked = new Set<string>()
  #timer: ReturnType<typeof setInterval> | undefined
  /** Aborted on close: the warm-up and every background sync stop with it. */
  readonly #closing = new AbortController()
  #closed = false
  readonly #onPeerConnect = (evt: CustomEvent<PeerId>): void => {
    this.#channels.reconnect(evt.detail.toString())
  }

  readonly #storage: TallyStorage
  readonly #channels: ChannelKeeper
  readonly #gate: ChangeGate
  readonly #delivery: DeliveryWatch
  readonly #confirmations: Confirmations

  /** The folder's lock (none with a shared backend). */
  readonly #lock: FolderLock | undefined

  private constructor(init: TallyDbInit, index: TallyIndexStore, storage: TallyStorage, lock?: FolderLock) {
    super()
    this.#lock = lock
    this.#init = init
    this.#index = index
    this.#storage = storage
    this.#now = init.now ?? Date.now
    this.#adapter = new Libp2pNetworkAdapter(init.libp2p, {
      authorize: async (req) => (this.#closed ? undefined : authorizeOpen(this.#index, init.grantKey, req)),
      snapshot: async (documentId) => {
        // the opener receives the whole document with this reply: that is a sync too (lastSyncAt)
        this.#synced(documentId)
        return snapshotOf(this.#repo, this.#storage, documentId)
      },
      // a sync state kept from the peer's last channel may count a change as sent that never arrived
      // (it was on its way when that channel closed): automerge-repo forgets what it sent only when it
      // begins a peer's sync, which a peer whose first message comes before that never gets
      carried: (documentId, peer) => {
        // only a reopen: on its first channel the peer's sync begins as the repo begins it
        const peers = this.#carriedBefore.get(documentId) ?? new Set<RepoPeerId>()
        if (!peers.has(peer)) {
          this.#carriedBefore.set(documentId, peers.add(peer))
          return
        }
        const synchronizer = this.#repo.synchronizer.docSynchronizers[documentId]
        if (synchronizer !== undefined && !synchronizer.hasPeer(peer)) void synchronizer.beginSync([peer])
      },
      onTraffic: (documentId) => this.#synced(documentId),
      vet: async (documentId, data, remotePeer) => this.#gate.vet(documentId, data, remotePeer)
    })
    this.#adapter.on('peer-candidate', ({ peerId }) => {
      this.#channelChanged(peerId, true)
      // the provisioner came to us (a restart, a sync): open our documents of it on that channel
      this.#channels.reconnect(peerId)
    })
    this.#adapter.on('peer-disconnected', ({ peerId }) => this.#channelChanged(peerId, false))
    const allows = async (peer: RepoPeerId, documentId?: DocumentId): Promise<boolean> =>
      documentId !== undefined && this.#adapter.allows(peer, documentId)
    this.#repo = new Repo({
      storage,
      network: [this.#adapter],
      peerId: init.libp2p.peerId.toString() as RepoPeerId,
      shareConfig: { announce: allows, access: allows },
      enableRemoteHeadsGossiping: false,
      isEphemeral: true
    })
    this.#delivery = new DeliveryWatch(this.#repo)
    this.#confirmations = new Confirmations({
      localPeerId: () => this.#localPeerId(),
      now: () => this.#now(),
      closed: () => this.#closed,
      change: async (tallyId, fn) => {
        await this.#change(this.#entry(tallyId), fn)
      }
    })
    this.#gate = new ChangeGate({
      index,
      replica: async (entry) => (await this.#handle(entry)).doc(),
      pending: async (documentId) => {
        const handle = this.#repo.handles[documentId as DocumentId]
        if (handle === undefined) return undefined
        await handle.whenReady(['ready', 'requesting', 'unavailable'])
        return handle.isReady() ? handle.doc() : undefined
      },
      ...(init.backend === undefined
        ? {}
        : { refresh: async () => mergeAllStored(this.#repo, this.#storage) }),
      refused: (tallyId, peer, vetted) => this.#refused(tallyId, peer, vetted),
      taken: (tallyId) => this.#refusals.delete(tallyId),
      now: () => this.#now()
    })
    this.#channels = new ChannelKeeper({
      adapter: this.#adapter,
      index,
      grantKey: init.grantKey,
      closing: this.#closing.signal,
      opened: async (entry) => {
        // the repo only announces a document to a peer once its share policy is asked again
        this.#repo.shareConfigChanged()
        await this.#handle(entry).catch(() => undefined)
      }
    })
  }

  /** Open the database in `init.dir` (its index is read; documents load on demand). */
  static async open(init: TallyDbInit): Promise<TallyDb> {
    // a shared backend (the cadre's PostgreSQL) instead of DIR/tallydb: other nodes change it too
    if (init.backend !== undefined) {
      const db = new TallyDb(init, init.backend.index, init.backend.storage)
      init.backend.follow(db.#sharedChanges())
      return db
    }
    const { index, storage, lock } = await openFolderBackend(init.dir)
    return new TallyDb(init, index, storage, lock)
  }

  /** Serve documents and reconnect to the provisioners of the documents this node opened. */
  async start(): Promise<void> {
    this.#assertOpen()
    await this.#adapter.start()
    this.#init.libp2p.addEventListener('peer:connect', this.#onPeerConnect)
    const every = this.#init.reconnectMs ?? DEFAULT_RECONNECT_MS
    if (every > 0) {
      this.#timer = setInterval(() => this.#channels.reconnect(), every)
      this.#timer.unref()
    }
    this.#channels.reconnect()
    // after the node is up: its start (API server, ready line) must not wait behind ~0.5 s of warm-up
    if (this.#init.warmUp === true) void warmDocumentEngine(this.#closing.signal, WARM_UP_AFTER_MS)
  }

  /** Stop serving, write every document and close the index. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#closing.abort()
    this.#init.libp2p.removeEventListener('peer:connect', this.#onPeerConnect)
    await this.#channels.settled()
    await this.#adapter.stop()
    await this.#repo.shutdown().catch(() => {})
    await Promise.allSettled([this.#index.close(), this.#storage.close()])
    await this.#lock?.release()
  }

  /** True when this node created the tally's document and serves it. */
  isProvisioner(tallyId: string): boolean {
    return this.#index.get(tallyId)?.provisioner === true
  }

  /** True when this node holds the tally's document (provisioned or joined). */
  has(tallyId: string): boolean {
    return this.#index.get(tallyId) !== undefined
  }

  /** Number of documents this node holds. */
  get size(): number {
    return this.#index.size
  }

  /**
   * Provisioner: create the tally's document (on disk on return) and the grant that opens it for
   * `counterpartyPeerId` only. `document`: its bytes, for the bootstrap's frame (the opener's replica).
   */
  async provision(input: ProvisionInput): Promise<ProvisionedDocument> {
    const { stored, ...made } = this.prepare(input)
    await stored
    input.signal?.throwIfAborted()
    return made
  }

  /**
   * Provisioner: provision() without waiting for the disk: the document, its grant and `stored`, which
   * settles once the document is on disk (until then it is served to nobody). For a listener that hands
   * the document over in its frame and confirms the tally only once `stored` has resolved.
   */
  prepare(input: ProvisionInput): ProvisionedDocument & { stored: Promise<void> } {
    this.#assertOpen()
    return createDocument(this.#parts(), input)
  }

  /**
   * Opener: hold a replica of the tally's document (on disk on return): the `document` the provisioner's
   * bootstrap frame carried, else opened at the provisioner with `grant` (a 1.0.0 peer). `terms`: standing
   * terms this side brings (foil: the listener's token), set where unset and offered to the provisioner.
   * With `terms` the provisioner's document must state no terms of its own (RefusedChangeError).
   * A handed-over document is checked whole here (id, chunks and checksums) and for being this tally when
   * it is first loaded (at once when terms are set; else at its first read, change or sync): the
   * bootstrap does not pay for the document engine (ForeignDocumentError then).
   */
  async join(input: JoinInput): Promise<{ documentId: string }> {
    this.#assertOpen()
    const { documentId, handle, offer } = await holdReplica(this.#parts(), input)
    const { tallyId } = input.tally
    if (handle !== undefined) this.#watch(tallyId, handle)
    this.#lastSync.set(tallyId, this.#now())
    // a channel to the provisioner is open already (a returning customer): it would never see one open
    // for this document, so we open it there now
    if (offer || this.#adapter.hasChannel(input.provisionerPeerId)) this.#channels.offer(this.#entry(tallyId))
    return { documentId }
  }

  /**
   * Provisioner: the counterparty confirmed the bootstrap that handed it this document (in the frame, or
   * opened over libp2p before it confirmed), so both held the same document then: that is a sync too.
   */
  handedOver(tallyId: string): void {
    if (this.#closed || this.#index.get(tallyId)?.provisioner !== true) return
    this.#lastSync.set(tallyId, this.#now())
  }

  /** The document of a tally and its sync state; undefined when this node has none. */
  async read(tallyId: string): Promise<TallyDocumentView | undefined> {
    this.#assertOpen()
    // a cadre's other node may have made it a moment ago: its note has not reached us yet, the store has it
    const entry = this.#index.get(tallyId) ?? (await this.#index.load?.(tallyId))
    if (entry === undefined) return undefined
    const handle = await this.#handle(entry)
    return this.#view(entry, handle)
  }

  /** Propose a change of the terms; the counterparty sees it once connected (a channel opens for it). */
  async propose(tallyId: string, terms: TallyTerms): Promise<TermsProposal> {
    const entry = this.#entry(tallyId)
    const proposal: TermsProposal = {
      proposalId: randomUUID(),
      by: this.#localPeerId(),
      at: new Date(this.#now()).toISOString(),
      terms: checkTerms(terms),
      status: 'open'
    }
    await this.#change(entry, (d) => addProposal(d, proposal))
    return proposal
  }

  /** Accept the counterparty's open proposal: its terms become the tally's. */
  async accept(tallyId: string, proposalId: string): Promise<TermsProposal> {
    const at = new Date(this.#now()).toISOString()
    return this.#changeProposal(tallyId, proposalId, (d) =>
      acceptProposal(d, proposalId, this.#localPeerId(), at)
    )
  }

  /** Close an open proposal: `withdrawn` (our own) or `declined` (the counterparty's); terms stay. */
  async closeProposal(
    tallyId: string,
    proposalId: string,
    how: 'withdrawn' | 'declined'
  ): Promise<TermsProposal> {
    const at = new Date(this.#now()).toISOString()
    return this.#changeProposal(tallyId, proposalId, (d) =>
      closeProposal(d, proposalId, this.#localPeerId(), at, how)
    )
  }

  async #changeProposal(
    tallyId: string,
    proposalId: string,
    fn: (d: StoredTallyDoc) => void
  ): Promise<TermsProposal> {
    const handle = await this.#change(this.#entry(tallyId), fn)
    const changed = docView(handle.doc()).proposals.find((p) => p.proposalId === proposalId)
    if (changed === undefined) throw new ProposalError('no such proposal')
    return changed
  }

  /**
   * Connect the tally's document to the counterparty when it is reachable. The opener dials the provisioner
   * and opens the document with its grant; the provisioner dials the opener's cadre addresses, and the
   * opener, seeing the channel, opens its documents on it. Resolves true when a channel carries it (see
   * delivered() for whether the counterparty holds our changes); SealedGrantError when the opener's grant
   * key cannot open the grant it keeps.
   */
  async sync(tallyId: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    return this.#channels.syncOrExplain(this.#entry(tallyId), options.signal)
  }

  /**
   * Resolves true once the counterparty's replica holds every change this node holds now, as its own sync
   * message says: what a wallet that exits after a change waits for (sync() only opens the channel).
   * False when it cannot be reached, or `signal` aborts first; a change it refused is never delivered.
   */
  async delivered(tallyId: string, options: { signal: AbortSignal }): Promise<boolean> {
    const entry = this.#entry(tallyId)
    const handle = await this.#handle(entry)
    const { signal } = options
    const sync = async (): Promise<boolean> => this.sync(tallyId, { signal })
    return this.#delivery.delivered(
      entry.documentId,
      entry.counterpartyPeerId,
      () => handle.doc(),
      sync,
      signal
    )
  }

  /**
   * Resolves true once the acceptance of `proposalId` counts: its proposer's node confirmed it (it does so
   * as soon as it holds the acceptance) and the confirmation reached this node; false once the proposal
   * reads withdrawn, declined or superseded, or when `signal` aborts first. Syncs meanwhile.
   */
  async agreed(tallyId: string, proposalId: string, options: { signal: AbortSignal }): Promise<boolean> {
    const handle = await this.#handle(this.#entry(tallyId))
    const { signal } = options
    void this.sync(tallyId, { signal }).catch(() => false)
    return agreementSettled(handle, proposalId, signal)
  }

  /** Provisioner: the grant of this tally opens nothing any more; a channel carrying it stops at once. */
  async revoke(tallyId: string): Promise<void> {
    const entry = this.#entry(tallyId)
    if (!entry.provisioner) throw new ProposalError('only the provisioner can revoke the grant')
    if (entry.revoked === true) return
    this.#adapter.forget(entry.documentId as DocumentId)
    this.#carriedBefore.delete(entry.documentId as DocumentId)
    await this.#index.put({ ...entry, revoked: true })
  }

  // --- internals ---------------------------------------------------------------------------------

  /** Change the document by `fn` (its error thrown as it is), on disk on return, offered to the counterparty. */
  async #change(entry: IndexEntry, fn: (doc: StoredTallyDoc) => void): Promise<DocHandle<StoredTallyDoc>> {
    const handle = await this.#handle(entry)
    await changeDocument({ adapter: this.#adapter, repo: this.#repo }, handle, fn)
    this.#channels.offer(entry)
    return handle
  }

  /** A sync message (or the whole document) went either way for this document now. */
  #synced(documentId: string): void {
    const tallyId = this.#index.tallyOf(documentId)
    if (tallyId !== undefined) this.#lastSync.set(tallyId, this.#now())
  }

  async #handle(entry: IndexEntry): Promise<DocHandle<StoredTallyDoc>> {
    const handle = await this.#repo.find<StoredTallyDoc>(entry.documentId as DocumentId)
    if (!this.#checked.has(entry.tallyId)) {
      // a first state this node derived itself (or made) is not judged: only one handed over is
      const first =
        entry.provisioner || entry.first !== undefined
          ? undefined
          : this.#index.firstState?.(entry.documentId)
      const refusal = firstLoadRefusal(handle.doc(), entry, this.#localPeerId(), first)
      if (refusal !== undefined) {
        this.#refused(entry.tallyId, entry.counterpartyPeerId, refusal)
        throw new RefusedChangeError(refusal.reason)
      }
      this.#checked.add(entry.tallyId)
    }
    this.#watch(entry.tallyId, handle)
    return handle
  }

  #watch(tallyId: string, handle: DocHandle<StoredTallyDoc>): void {
    if (this.#watched.has(tallyId)) return
    this.#watched.add(tallyId)
    handle.on('change', () => {
      this.safeDispatchEvent('change', { detail: { tallyId } })
      this.#confirmations.due(tallyId, handle)
    })
    // an acceptance that came before a crash or a restart
    this.#confirmations.due(tallyId, handle)
  }

  #refused(tallyId: string | undefined, peer: string, vetted: Extract<Vetted, { ok: false }>): void {
    if (this.#closed) return
    if (tallyId !== undefined && !vetted.retry)
      this.#refusals.set(tallyId, { at: this.#now(), reason: vetted.reason })
    this.safeDispatchEvent('refused', {
      detail: { tallyId, peer, reason: vetted.reason, retry: vetted.retry }
    })
  }

  #channelChanged(peer: string, connected: boolean): void {
    for (const e of this.#index.withCounterparty(peer))
      this.safeDispatchEvent('sync', { detail: { tallyId: e.tallyId, connected } })
  }

  #view(entry: IndexEntry, handle: DocHandle<StoredTallyDoc>): TallyDocumentView {
    return {
      tallyId: entry.tallyId,
      documentId: entry.documentId,
      provisioner: entry.provisioner,
      counterpartyPeerId: entry.counterpartyPeerId,
      revoked: entry.revoked === true,
      connected: this.#channels.isOpen(entry),
      lastSyncAt: this.#lastSync.get(entry.tallyId) ?? null,
      refused: this.#refusals.get(entry.tallyId) ?? null,
      document: docView(handle.doc())
    }
  }

  #entry(tallyId: string): IndexEntry {
    this.#assertOpen()
    const entry = this.#index.get(tallyId)
    if (entry === undefined) throw new UnknownTallyDocumentError()
    return entry
  }

  #parts(): DocumentParts {
    return {
      init: this.#init,
      index: this.#index,
      storage: this.#storage,
      adapter: this.#adapter,
      repo: this.#repo,
      now: this.#now,
      localPeerId: this.#localPeerId()
    }
  }

  #localPeerId(): string {
    return this.#init.libp2p.peerId.toString()
  }

  #assertOpen(): void {
    if (this.#closed) throw new TallyDbClosedError()
  }

  /** What this node does when another node of its shared backend changes a document or an entry. */
  #sharedChanges(): SharedChanges {
    return sharedChangesFor(this.#repo, this.#storage, this.#adapter, () => this.#closed)
  }
}
