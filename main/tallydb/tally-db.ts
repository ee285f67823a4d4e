/**
 * The shared tally database of one node: an automerge-repo Repo (documents on disk in DIR/tallydb/chunks.jsonl),
 * served and reached over libp2p (Libp2pNetworkAdapter), with the index of which document is which tally.
 *
 * The provisioner creates a tally's document and serves it; the counterparty opens it with the grant (the
 * dbConnectionInfo credentials) and keeps a replica. Either side reads and changes its own replica while
 * the other is offline; Automerge merges when a channel joins them again. Only the opener dials: on
 * start, when a connection to the provisioner opens, every `reconnectMs`, and on sync().
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { from, init, loadIncremental, saveSince } from '@automerge/automerge'
import { Repo, generateAutomergeUrl } from '@automerge/automerge-repo'
import type { DocHandle, DocumentId, PeerId as RepoPeerId } from '@automerge/automerge-repo'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import type { DraftTally } from '../bootstrap/types.ts'
import {
  GrantRefusedError,
  ProposalError,
  TallyDbClosedError,
  TallyDbUnreachableError,
  UnknownTallyDocumentError
} from './errors.ts'
import { deriveGrant, openGrant, sealGrant, verifyGrant } from './grant.ts'
import { JournalStorageAdapter } from './journal-storage.ts'
import { Libp2pNetworkAdapter } from './libp2p-adapter.ts'
import type { Opened } from './libp2p-adapter.ts'
import { TallyIndex } from './tally-index.ts'
import { warmDocumentEngine } from './warm-up.ts'
import type { IndexEntry } from './tally-index.ts'
import {
  acceptProposal,
  addProposal,
  applyStandingTerms,
  checkTerms,
  docView,
  initialDoc
} from './tally-document.ts'
import type { TallyDoc, TallyDocBody, TallyTerms, TermsProposal } from './tally-document.ts'

/** Options of TallyDb.open. */
export interface TallyDbInit {
  /** Folder of the database (created, 0700), e.g. DIR/tallydb. */
  dir: string
  libp2p: Libp2p
  /** Key of the grants (derived from the node secret; never stored here). */
  grantKey: Uint8Array
  /** How often the opener retries documents whose provisioner is not connected. Default 30 000; 0: never. */
  reconnectMs?: number
  /**
   * Warm the document engine in the background at start (once per process), so that a serving node's first
   * hundred tallies do not pay V8's WebAssembly tier-up. Default false: a wallet that opens one document
   * would pay more for the warm-up than for one cold document.
   */
  warmUp?: boolean
  now?: () => number
}

/** A tally's document as the API shows it, with its sync state. */
export interface TallyDocumentView {
  tallyId: string
  documentId: string
  /** True: this node created and serves the document; false: it holds a replica opened with a grant. */
  provisioner: boolean
  counterpartyPeerId: string
  revoked: boolean
  /** A channel to the counterparty carries this document now. */
  connected: boolean
  /** Epoch ms of the last sync message exchanged with the counterparty, null when none this run. */
  lastSyncAt: number | null
  document: TallyDocBody
}

/** Events of TallyDb. */
export interface TallyDbEvents {
  /** A document changed, locally or from the counterparty. */
  change: CustomEvent<{ tallyId: string }>
  /** A document's channel opened or closed. */
  sync: CustomEvent<{ tallyId: string; connected: boolean }>
}

const DEFAULT_RECONNECT_MS = 30_000
/** Opener documents reconnected at once (a restart with many tallies must not dial them all together). */
const RECONNECT_CONCURRENCY = 4

/** The shared tally database of one node. Open with TallyDb.open, then start(). */
export class TallyDb extends TypedEventEmitter<TallyDbEvents> {
  readonly #init: TallyDbInit
  readonly #index: TallyIndex
  readonly #adapter: Libp2pNetworkAdapter
  readonly #repo: Repo
  readonly #now: () => number
  readonly #lastSync = new Map<string, number>()
  readonly #watched = new Set<string>()
  readonly #syncing = new Map<string, Promise<boolean>>()
  #timer: ReturnType<typeof setInterval> | undefined
  readonly #warmAbort = new AbortController()
  #closed = false
  readonly #onPeerConnect = (evt: CustomEvent<PeerId>): void => {
    this.#reconnect(evt.detail.toString())
  }

  readonly #storage: JournalStorageAdapter

  private constructor(init: TallyDbInit, index: TallyIndex, storage: JournalStorageAdapter) {
    super()
    this.#init = init
    this.#index = index
    this.#storage = storage
    this.#now = init.now ?? Date.now
    this.#adapter = new Libp2pNetworkAdapter(init.libp2p, {
      authorize: async (req) => this.#authorize(req.remotePeer, req.tallyId, req.grant),
      snapshot: async (documentId) => {
        // the opener receives the whole document with this reply: that is a sync too (lastSyncAt)
        this.#synced(documentId)
        return this.#snapshot(documentId)
      },
      onTraffic: (documentId) => this.#synced(documentId)
    })
    this.#adapter.on('peer-candidate', ({ peerId }) => {
      this.#channelChanged(peerId, true)
      // the provisioner came to us (a restart, a sync): open our documents of it on that channel
      this.#reconnect(peerId)
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
  }

  /** Open the database in `init.dir` (its index is read; documents load on demand). */
  static async open(init: TallyDbInit): Promise<TallyDb> {
    await mkdir(init.dir, { recursive: true, mode: 0o700 })
    const index = await TallyIndex.open(join(init.dir, 'index.jsonl'))
    try {
      return new TallyDb(init, index, await JournalStorageAdapter.open(join(init.dir, 'chunks.jsonl')))
    } catch (err) {
      await index.close()
      throw err
    }
  }

  /** Serve documents and reconnect to the provisioners of the documents this node opened. */
  async start(): Promise<void> {
    this.#assertOpen()
    await this.#adapter.start()
    this.#init.libp2p.addEventListener('peer:connect', this.#onPeerConnect)
    const every = this.#init.reconnectMs ?? DEFAULT_RECONNECT_MS
    if (every > 0) {
      this.#timer = setInterval(() => this.#reconnect(), every)
      this.#timer.unref()
    }
    this.#reconnect()
    if (this.#init.warmUp === true) void warmDocumentEngine(this.#warmAbort.signal)
  }

  /** Stop serving, write every document and close the index. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#warmAbort.abort()
    this.#init.libp2p.removeEventListener('peer:connect', this.#onPeerConnect)
    await Promise.allSettled([...this.#syncing.values()])
    await this.#adapter.stop()
    await this.#repo.shutdown().catch(() => {})
    await Promise.allSettled([this.#index.close(), this.#storage.close()])
  }

  /** True when this node created the tally's document and serves it. */
  isProvisioner(tallyId: string): boolean {
    return this.#index.get(tallyId)?.provisioner === true
  }

  has(tallyId: string): boolean {
    return this.#index.get(tallyId) !== undefined
  }

  /** Number of documents this node holds. */
  get size(): number {
    return this.#index.size
  }

  /**
   * Provisioner: create the tally's document (on disk on return) and the grant that opens it for
   * `counterpartyPeerId` only.
   */
  async provision(input: {
    tally: DraftTally
    counterpartyPeerId: string
    /** Where the counterparty said it listens (its cadre): sync() dials it there. */
    counterpartyAddrs?: string[]
    terms?: TallyTerms
    signal?: AbortSignal
  }): Promise<{ grant: string; documentId: string }> {
    this.#assertOpen()
    const { tally, counterpartyPeerId } = input
    if (this.#index.get(tally.tallyId) !== undefined) throw new ProposalError('tally already has a document')
    const at = new Date(this.#now()).toISOString()
    const doc = from(
      initialDoc(tally, checkTerms(input.terms ?? {}), this.#localPeerId(), at) as unknown as Record<
        string,
        unknown
      >
    )
    // the URL's tail is the id: decoding it again (bs58check) would cost as much as making it
    const documentId = generateAutomergeUrl().slice('automerge:'.length)
    // straight into storage, in the layout automerge-repo loads: the Repo takes the document up only when
    // someone reads it or the opener syncs (a rush of bootstraps costs no DocHandle, synchronizer or snapshot)
    await Promise.all([
      this.#store(documentId, saveSince(doc, [])),
      this.#index.put({
        tallyId: tally.tallyId,
        documentId,
        counterpartyPeerId,
        provisioner: true,
        ...(input.counterpartyAddrs === undefined ? {} : { nodes: input.counterpartyAddrs.slice(0, 16) }),
        createdAt: this.#now()
      })
    ])
    input.signal?.throwIfAborted()
    return { grant: deriveGrant(this.#init.grantKey, tally.tallyId, counterpartyPeerId), documentId }
  }

  /**
   * Opener: open the tally's document at the provisioner with `grant` and hold a synced replica (on disk
   * on return). `terms`: standing terms this side brings (foil: the listener's token), set where unset.
   */
  async join(input: {
    tally: DraftTally
    provisionerPeerId: string
    nodes: string[]
    grant: string
    terms?: TallyTerms
    signal?: AbortSignal
  }): Promise<{ documentId: string }> {
    this.#assertOpen()
    const { tally, provisionerPeerId, grant, signal } = input
    if (this.#index.get(tally.tallyId) !== undefined) throw new ProposalError('tally already has a document')
    const { documentId, snapshot } = await this.#open(
      tally.tallyId,
      provisionerPeerId,
      input.nodes,
      grant,
      signal
    )
    if (this.#index.tallyOf(documentId) !== undefined) throw new GrantRefusedError('document already in use')
    const terms = checkTerms(input.terms ?? {})
    const withTerms = Object.keys(terms).length > 0
    // the snapshot in the reply is the replica; sync messages on the channel carry every change after it.
    // Kept as bytes unless we change it now (foil terms): then the Repo takes it and syncs our change back
    const handle =
      snapshot === undefined
        ? await this.#findRemote(documentId, provisionerPeerId, signal)
        : withTerms
          ? this.#repo.import<TallyDoc>(snapshot, { docId: documentId as DocumentId })
          : undefined
    const doc = handle?.doc() ?? docOf(snapshot)
    // the document must be this tally between these two parties, or the provisioner handed us another
    if (
      doc?.tally?.tallyId !== tally.tallyId ||
      doc.tally.initiatorPeerId !== tally.initiatorPeerId ||
      doc.tally.respondentPeerId !== tally.respondentPeerId
    ) {
      this.#adapter.forget(documentId as DocumentId)
      throw new GrantRefusedError('the document is not this tally')
    }
    if (handle !== undefined && withTerms) {
      const at = new Date(this.#now()).toISOString()
      handle.change((d) => applyStandingTerms(d, terms, this.#localPeerId(), at))
    }
    await Promise.all([
      handle !== undefined
        ? this.#repo.flush([documentId as DocumentId])
        : this.#store(documentId, snapshot as Uint8Array),
      this.#index.put({
        tallyId: tally.tallyId,
        documentId,
        counterpartyPeerId: provisionerPeerId,
        provisioner: false,
        nodes: input.nodes.slice(0, 16),
        sealedGrant: sealGrant(this.#init.grantKey, tally.tallyId, grant),
        createdAt: this.#now()
      })
    ])
    if (handle !== undefined) this.#watch(tally.tallyId, handle)
    this.#lastSync.set(tally.tallyId, this.#now())
    return { documentId }
  }

  /** The document of a tally and its sync state; undefined when this node has none. */
  async read(tallyId: string): Promise<TallyDocumentView | undefined> {
    this.#assertOpen()
    const entry = this.#index.get(tallyId)
    if (entry === undefined) return undefined
    const handle = await this.#handle(entry)
    return this.#view(entry, handle)
  }

  /** Propose a change of the terms; both replicas see it as soon as they are connected. */
  async propose(tallyId: string, terms: TallyTerms): Promise<TermsProposal> {
    const entry = this.#entry(tallyId)
    const checked = checkTerms(terms)
    const handle = await this.#handle(entry)
    const proposal: TermsProposal = {
      proposalId: randomUUID(),
      by: this.#localPeerId(),
      at: new Date(this.#now()).toISOString(),
      terms: checked,
      status: 'open'
    }
    let failure: unknown
    handle.change((d) => {
      try {
        addProposal(d, proposal)
      } catch (err) {
        failure = err
      }
    })
    if (failure !== undefined) throw failure
    await this.#repo.flush([handle.documentId])
    return proposal
  }

  /** Accept the counterparty's open proposal: its terms become the tally's. */
  async accept(tallyId: string, proposalId: string): Promise<TermsProposal> {
    const entry = this.#entry(tallyId)
    const handle = await this.#handle(entry)
    const at = new Date(this.#now()).toISOString()
    let failure: unknown
    handle.change((d) => {
      try {
        acceptProposal(d, proposalId, this.#localPeerId(), at)
      } catch (err) {
        failure = err
      }
    })
    if (failure !== undefined) throw failure
    await this.#repo.flush([handle.documentId])
    const accepted = docView(handle.doc()).proposals.find((p) => p.proposalId === proposalId)
    if (accepted === undefined) throw new ProposalError('no such proposal')
    return accepted
  }

  /**
   * Connect the tally's document to the counterparty when it is reachable. The opener dials the provisioner
   * and opens the document with its grant; the provisioner dials the opener's cadre addresses, and the
   * opener, seeing the channel, opens its documents on it. Resolves true when a channel carries it.
   */
  async sync(tallyId: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const entry = this.#entry(tallyId)
    if (this.#adapter.isOpen(entry.counterpartyPeerId, entry.documentId as DocumentId)) return true
    let running = this.#syncing.get(tallyId)
    if (running === undefined) {
      running = (
        entry.provisioner ? this.#invite(entry, options.signal) : this.#reopen(entry, options.signal)
      )
        .catch(() => false)
        .finally(() => this.#syncing.delete(tallyId))
      this.#syncing.set(tallyId, running)
    }
    return running
  }

  /** Provisioner: the grant of this tally opens nothing any more; a channel carrying it stops at once. */
  async revoke(tallyId: string): Promise<void> {
    const entry = this.#entry(tallyId)
    if (!entry.provisioner) throw new ProposalError('only the provisioner can revoke the grant')
    if (entry.revoked === true) return
    this.#adapter.forget(entry.documentId as DocumentId)
    await this.#index.put({ ...entry, revoked: true })
  }

  // --- internals ---------------------------------------------------------------------------------

  /** A sync message (or the whole document) went either way for this document now. */
  #synced(documentId: string): void {
    const tallyId = this.#index.tallyOf(documentId)
    if (tallyId !== undefined) this.#lastSync.set(tallyId, this.#now())
  }

  /** A document's bytes as they are: from the Repo when it holds it, else its chunks in storage. */
  async #snapshot(documentId: DocumentId): Promise<Uint8Array | undefined> {
    const loaded = this.#repo.handles[documentId]
    // every change, uncompressed: for a document of a few KB, deflate (save()) costs more than it saves
    if (loaded?.isReady() === true) return saveSince(loaded.doc(), [])
    const chunks = (await this.#storage.loadRange([documentId])).filter(
      (c) => c.data !== undefined && (c.key[1] === 'snapshot' || c.key[1] === 'incremental')
    )
    if (chunks.length === 0) return undefined
    return Buffer.concat(chunks.map((c) => c.data as Uint8Array))
  }

  /** Store a document's bytes as one chunk, the way automerge-repo keys its incremental saves. */
  async #store(documentId: string, bytes: Uint8Array): Promise<void> {
    const hash = createHash('sha256').update(bytes).digest('hex')
    await this.#storage.save([documentId, 'incremental', hash], bytes)
  }

  async #authorize(remotePeer: string, tallyId: string, grant: string): Promise<DocumentId | undefined> {
    if (this.#closed) return undefined
    const entry = this.#index.get(tallyId)
    // every refusal looks the same to the asker: unknown tally, not ours to serve, revoked, wrong peer, wrong grant
    if (entry === undefined || !entry.provisioner || entry.revoked === true) return undefined
    if (remotePeer !== entry.counterpartyPeerId) return undefined
    if (!verifyGrant(this.#init.grantKey, tallyId, remotePeer, grant)) return undefined
    return entry.documentId as DocumentId
  }

  async #open(
    tallyId: string,
    provisionerPeerId: string,
    nodes: string[],
    grant: string,
    signal?: AbortSignal
  ): Promise<Opened> {
    let peer: PeerId
    try {
      peer = peerIdFromString(provisionerPeerId)
    } catch (err) {
      throw new TallyDbUnreachableError('bad provisioner peer id', { cause: err })
    }
    const addrs = peerAddrs(provisionerPeerId, nodes)
    try {
      return await this.#adapter.open(peer, addrs, tallyId, grant, signal === undefined ? {} : { signal })
    } catch (err) {
      if (err instanceof GrantRefusedError || signal?.aborted === true) throw err
      throw new TallyDbUnreachableError(undefined, { cause: err })
    }
  }

  /** Find a document that only the provisioner has yet: wait until the repo knows the peer, then ask it. */
  async #findRemote(documentId: string, peer: string, signal?: AbortSignal): Promise<DocHandle<TallyDoc>> {
    for (;;) {
      signal?.throwIfAborted()
      if (this.#repo.peers.includes(peer as RepoPeerId)) {
        try {
          // not find's own signal: automerge-repo then rejects a promise nobody awaits
          return await raceSignal(this.#repo.find<TallyDoc>(documentId as DocumentId), signal)
        } catch (err) {
          if (signal?.aborted === true || !this.#adapter.isOpen(peer, documentId as DocumentId)) throw err
          // unavailable: the peer joined the repo a moment after we asked; ask again
          await this.#repo.removeFromCache(documentId as DocumentId).catch(() => {})
        }
      }
      await delay(5, signal)
    }
  }

  /** Provisioner: open a channel to the opener, then wait (until `signal`) for it to open the document. */
  async #invite(entry: IndexEntry, signal?: AbortSignal): Promise<boolean> {
    if (entry.revoked === true) return false
    const addrs = peerAddrs(entry.counterpartyPeerId, entry.nodes ?? [])
    await this.#adapter.channelTo(
      peerIdFromString(entry.counterpartyPeerId),
      addrs,
      signal === undefined ? {} : { signal }
    )
    while (!this.#adapter.isOpen(entry.counterpartyPeerId, entry.documentId as DocumentId)) {
      if (signal === undefined || signal.aborted || this.#closed) return false
      await delay(20, signal).catch(() => undefined)
    }
    return true
  }

  async #reopen(entry: IndexEntry, signal?: AbortSignal): Promise<boolean> {
    const grant =
      entry.sealedGrant === undefined
        ? undefined
        : openGrant(this.#init.grantKey, entry.tallyId, entry.sealedGrant)
    if (grant === undefined) return false
    try {
      await this.#open(entry.tallyId, entry.counterpartyPeerId, entry.nodes ?? [], grant, signal)
    } catch {
      return false
    }
    // the repo only announces a document to a peer once its share policy is asked again
    this.#repo.shareConfigChanged()
    await this.#handle(entry).catch(() => undefined)
    return true
  }

  /** Reconnect opener documents (all, or those of one provisioner), a few at a time, in the background. */
  #reconnect(peer?: string): void {
    if (this.#closed) return
    const due = [...this.#index.values()].filter(
      (e) =>
        !e.provisioner &&
        (peer === undefined || e.counterpartyPeerId === peer) &&
        !this.#adapter.isOpen(e.counterpartyPeerId, e.documentId as DocumentId)
    )
    const next = async (): Promise<void> => {
      for (let e = due.shift(); e !== undefined && !this.#closed; e = due.shift())
        await this.sync(e.tallyId).catch(() => false)
    }
    for (let i = 0; i < RECONNECT_CONCURRENCY; i++) void next()
  }

  async #handle(entry: IndexEntry): Promise<DocHandle<TallyDoc>> {
    const handle = await this.#repo.find<TallyDoc>(entry.documentId as DocumentId)
    this.#watch(entry.tallyId, handle)
    return handle
  }

  #watch(tallyId: string, handle: DocHandle<TallyDoc>): void {
    if (this.#watched.has(tallyId)) return
    this.#watched.add(tallyId)
    handle.on('change', () => this.safeDispatchEvent('change', { detail: { tallyId } }))
  }

  #channelChanged(peer: string, connected: boolean): void {
    for (const e of this.#index.values())
      if (e.counterpartyPeerId === peer)
        this.safeDispatchEvent('sync', { detail: { tallyId: e.tallyId, connected } })
  }

  #view(entry: IndexEntry, handle: DocHandle<TallyDoc>): TallyDocumentView {
    return {
      tallyId: entry.tallyId,
      documentId: entry.documentId,
      provisioner: entry.provisioner,
      counterpartyPeerId: entry.counterpartyPeerId,
      revoked: entry.revoked === true,
      connected: this.#adapter.isOpen(entry.counterpartyPeerId, entry.documentId as DocumentId),
      lastSyncAt: this.#lastSync.get(entry.tallyId) ?? null,
      document: docView(handle.doc())
    }
  }

  #entry(tallyId: string): IndexEntry {
    this.#assertOpen()
    const entry = this.#index.get(tallyId)
    if (entry === undefined) throw new UnknownTallyDocumentError()
    return entry
  }

  #localPeerId(): string {
    return this.#init.libp2p.peerId.toString()
  }

  #assertOpen(): void {
    if (this.#closed) throw new TallyDbClosedError()
  }
}

/** The multiaddrs of `peerId` among `nodes` (at most 16): a dbConnectionInfo cannot point us at someone else. */
function peerAddrs(peerId: string, nodes: string[]): Multiaddr[] {
  const addrs: Multiaddr[] = []
  for (const n of nodes.slice(0, 16)) {
    try {
      const ma = multiaddr(n)
      const p2p = ma.getComponents().find((c) => c.name === 'p2p')?.value
      if (p2p === undefined) addrs.push(ma.encapsulate(`/p2p/${peerId}`))
      else if (p2p === peerId) addrs.push(ma)
    } catch {
      // not a multiaddr: skip it
    }
  }
  return addrs
}

/** `promise`, or the abort of `signal` first (the promise's own failure is then ignored). */
async function raceSignal<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return promise
  promise.catch(() => {})
  signal.throwIfAborted()
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}

/** The document in `bytes` (a snapshot reply), for checking what it is. */
function docOf(bytes: Uint8Array | undefined): TallyDoc | undefined {
  if (bytes === undefined) return undefined
  try {
    return loadIncremental(init<TallyDoc>(), bytes)
  } catch {
    return undefined
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
