/**
 * An automerge-repo NetworkAdapter over libp2p streams (protocol TALLYDB_PROTOCOL). One stream per remote
 * peer carries length-prefixed CBOR frames: a `hello` each way (the repo's peer id and metadata), then
 * automerge-repo's own messages, plus `open` requests that ask for one document with a grant.
 *
 * Access control is ours, on the authenticated connection: a channel carries only documents that an
 * `open` on it was granted for (by the `authorize` hook, which sees the connection's remote PeerId), in
 * both directions, on every message; the repo's peer id must be that PeerId. Anything else is dropped.
 * `openAccess` (automerge-repo's adapter acceptance tests only) carries every document to anyone.
 */
import { NetworkAdapter, cbor } from '@automerge/automerge-repo/slim'
import type { DocumentId, Message, PeerId as RepoPeerId, PeerMetadata } from '@automerge/automerge-repo/slim'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { isMultiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ChannelSupersededError, GrantRefusedError, TallyDbClosedError } from './errors.ts'
import { Channel } from './adapter-channel.ts'
import { assertPlainCbor } from './cbor-guard.ts'
import { Readiness } from './adapter-readiness.ts'
import { OutboundHold } from './adapter-hold.ts'
import type { Frame } from './adapter-channel.ts'
import type { Libp2pNetworkAdapterInit, Opened } from './adapter-types.ts'

export type { Libp2pNetworkAdapterInit, OpenRequest, Opened } from './adapter-types.ts'

/** automerge-repo message types a channel carries (no ephemeral messages, no gossip of heads). */
const CARRIED_TYPES: ReadonlySet<string> = new Set(['sync', 'request', 'doc-unavailable'])

/** Our libp2p protocol for the shared tally database. */
export const TALLYDB_PROTOCOL = '/taleus/tallydb/1.0.0'

/** Two channels with one peer opened less than this apart were opened at once (both peers dialled). */
const SIMULTANEOUS_MS = 5_000
/** Longest connect() waits for the hellos on the channels it starts with before it says it is ready. */
const READY_WAIT_MS = 1_000
/** Times an open request is sent again after its channel lost to one opened at the same moment. */
const SUPERSEDED_RETRIES = 2

const DEFAULTS = {
  // what libp2p's stream reader holds at most (@libp2p/utils: 4 MiB); a larger frame resets the stream
  maxFrameBytes: 4 * 1024 * 1024 - 64,
  // a stream that says nothing holds its connection (the connection guard reaps idle connections only)
  helloTimeoutMs: 10_000,
  // nor may one that never carries a document: a legitimate peer opens one right after the hellos
  idleWithoutDocumentMs: 30_000,
  maxInboundStreams: 8,
  maxPendingOpens: 256,
  maxRefusals: 32
}

/** automerge-repo NetworkAdapter carrying the repo's sync messages over libp2p streams. */
export class Libp2pNetworkAdapter extends NetworkAdapter {
  readonly #libp2p: Libp2p
  readonly #init: Libp2pNetworkAdapterInit & typeof DEFAULTS
  /** By remote libp2p PeerId. */
  readonly #channels = new Map<string, Channel>()
  /** Dials in progress, by remote PeerId, so concurrent opens share one stream. */
  readonly #dialing = new Map<string, Promise<Channel>>()
  #connected = false
  #handling = false
  #stopped = false
  /** Our hello, encoded once per connect(): it is the same on every channel. */
  #hello: Uint8Array | undefined
  readonly #readiness = new Readiness<Channel>()
  readonly #hold = new OutboundHold<Message>((m) => this.send(m))

  constructor(libp2p: Libp2p, init: Libp2pNetworkAdapterInit = {}) {
    super()
    this.#libp2p = libp2p
    this.#init = { ...DEFAULTS, ...stripUndefined(init) }
  }

  /** Register the protocol handler (before connect(): inbound streams wait for it). */
  async start(): Promise<void> {
    if (this.#handling) return
    this.#handling = true
    await this.#libp2p.handle(TALLYDB_PROTOCOL, (stream, connection) => this.#accept(stream, connection), {
      maxInboundStreams: this.#init.maxInboundStreams,
      maxOutboundStreams: this.#init.maxInboundStreams
    })
  }

  /** Unregister the handler and close every channel. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.disconnect()
    if (this.#handling) {
      this.#handling = false
      await this.#libp2p.unhandle(TALLYDB_PROTOCOL).catch(() => {})
    }
  }

  isReady(): boolean {
    return this.#readiness.ready
  }

  whenReady(): Promise<void> {
    return this.#readiness.promise
  }

  connect(peerId: RepoPeerId, peerMetadata?: PeerMetadata): void {
    this.peerId = peerId
    this.peerMetadata = peerMetadata ?? {}
    this.#hello = undefined
    this.#connected = true
    for (const ch of this.#channels.values()) this.#greet(ch)
    const dialPeers = this.#init.dialPeers ?? []
    // nothing to greet: ready at once (the handler is registered meanwhile, as before)
    if (this.#channels.size === 0 && dialPeers.length === 0) this.#readiness.markReady()
    const initial = [...this.#channels.values()].map(async (ch) => this.#readiness.greeted(ch))
    const dials = this.start().then(async () => {
      const greeted = dialPeers.map(async (p) => this.#readiness.greeted(await this.channelTo(p)))
      await Promise.allSettled([...initial, ...greeted])
    })
    this.#readiness.after(dials, READY_WAIT_MS)
  }

  disconnect(): void {
    this.#connected = false
    for (const ch of [...this.#channels.values()]) this.#close(ch)
    this.emit('close')
  }

  send(message: Message): void {
    if (!this.#connected || this.#hold.keep(message.documentId, message)) return
    const ch = this.#byRepoPeer(message.targetId)
    if (ch === undefined || !this.#carries(ch, message)) return
    if (message.documentId !== undefined) this.#init.onTraffic?.(message.documentId, ch.remotePeer, 'out')
    ch.write({ t: 'msg', m: message })
  }

  /** Hold `documentId`'s outgoing messages until the returned release (a local change is going to disk). */
  hold(documentId: DocumentId): () => void {
    return this.#hold.hold(documentId)
  }

  /** True when a live channel to `remotePeer` carries `documentId`. */
  isOpen(remotePeer: string, documentId: DocumentId): boolean {
    const ch = this.#channels.get(remotePeer)
    return ch !== undefined && !ch.closed && (this.#init.openAccess === true || ch.allowed.has(documentId))
  }

  /** The share policy of the repo: a document goes only to a repo peer whose channel was granted it. */
  allows(repoPeerId: RepoPeerId, documentId: DocumentId): boolean {
    const ch = this.#byRepoPeer(repoPeerId)
    return ch !== undefined && (this.#init.openAccess === true || ch.allowed.has(documentId))
  }

  /** True when a live channel to `remotePeer` is open (whatever it carries). */
  hasChannel(remotePeer: string): boolean {
    const ch = this.#channels.get(remotePeer)
    return ch !== undefined && !ch.closed
  }

  /** Remote PeerIds with a live channel. */
  connectedPeers(): string[] {
    return [...this.#channels.values()].filter((c) => !c.closed).map((c) => c.remotePeer)
  }

  /** Stop carrying `documentId` on every channel (its grant was revoked). */
  forget(documentId: DocumentId): void {
    for (const ch of this.#channels.values()) ch.allowed.delete(documentId)
  }

  /** The channel to `peer` (dialled over an open connection when there is one, else `addrs` in order). */
  async channelTo(
    peer: PeerId | Multiaddr,
    addrs: Multiaddr[] = [],
    options: { signal?: AbortSignal } = {}
  ): Promise<Channel> {
    if (this.#stopped) throw new TallyDbClosedError()
    const key = isMultiaddr(peer)
      ? (peer.getComponents().find((c) => c.name === 'p2p')?.value ?? '')
      : peer.toString()
    const existing = this.#channels.get(key)
    if (existing !== undefined && !existing.closed) return existing
    let dialing = this.#dialing.get(key)
    if (dialing === undefined) {
      dialing = this.#dial(peer, addrs, options.signal).finally(() => this.#dialing.delete(key))
      this.#dialing.set(key, dialing)
    }
    return dialing
  }

  /** Ask `peer` to open `tallyId` with `grant` on our channel; the document it carries from then on. */
  async open(
    peer: PeerId,
    addrs: Multiaddr[],
    tallyId: string,
    grant: string,
    options: { signal?: AbortSignal } = {}
  ): Promise<Opened> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#openOnce(peer, addrs, tallyId, grant, options)
      } catch (err) {
        // its channel lost to the one the peer opened at the same moment: ask again on the kept one
        if (!(err instanceof ChannelSupersededError) || attempt >= SUPERSEDED_RETRIES) throw err
      }
    }
  }

  async #openOnce(
    peer: PeerId,
    addrs: Multiaddr[],
    tallyId: string,
    grant: string,
    options: { signal?: AbortSignal }
  ): Promise<Opened> {
    const ch = await this.channelTo(peer, addrs, options)
    // it may have lost to a channel the peer opened at the same moment while we waited for it: a request
    // on a closed channel would never be sent nor answered, so ask again (open() does) on the kept one
    if (ch.closed) throw new ChannelSupersededError()
    if (ch.pending.size >= this.#init.maxPendingOpens) throw new GrantRefusedError('too many open requests')
    const id = ch.nextId()
    const reply = new Promise<Opened>((resolve, reject) => {
      ch.pending.set(id, { resolve, reject })
    })
    const onAbort = (): void => {
      const p = ch.pending.get(id)
      ch.pending.delete(id)
      p?.reject(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'))
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      options.signal?.throwIfAborted()
      ch.write({ t: 'open', id, tallyId, grant })
      return await reply
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  async #dial(peer: PeerId | Multiaddr, addrs: Multiaddr[], signal?: AbortSignal): Promise<Channel> {
    // an open connection first; the addresses when there is none or it turns out dead (the peer restarted).
    // A bare PeerId is dialled only over an open connection (or with no address at all): libp2p merges
    // dials to one peer, so a bare one with nothing in the peer store would fail a bootstrap dialling it
    // by address at the same moment (NoValidAddressesError for both)
    const open = isMultiaddr(peer) || this.#libp2p.getConnections(peer).length > 0
    const targets: Array<PeerId | Multiaddr> = open || addrs.length === 0 ? [peer, ...addrs] : addrs
    let lastError: unknown
    for (const target of targets) {
      try {
        signal?.throwIfAborted()
        const connection = await this.#libp2p.dial(target, { signal })
        const stream = await connection.newStream(TALLYDB_PROTOCOL, {
          signal,
          maxOutboundStreams: this.#init.maxInboundStreams
        })
        // the connection's authenticated remote PeerId, whatever the address claimed
        return this.#adopt(stream, connection, true)
      } catch (err) {
        lastError = err
        if (signal?.aborted === true) break
      }
    }
    throw lastError ?? new Error('no address to dial')
  }

  #accept(stream: Stream, connection: Connection): void {
    if (this.#stopped) {
      stream.abort(new Error('closed'))
      return
    }
    this.#adopt(stream, connection, false)
  }

  #adopt(stream: Stream, connection: Connection, outbound: boolean): Channel {
    const remotePeer = connection.remotePeer.toString()
    const previous = this.#channels.get(remotePeer)
    if (previous !== undefined && !previous.closed) {
      // Two streams opened at about the same time (both peers dialled, e.g. each on the other's connect):
      // the one dialled by the smaller PeerId wins, on both sides alike, whichever arrived first or has
      // exchanged its hellos. An older channel loses to a new stream: the peer opened another because it
      // lost the old one (a restart we have not noticed yet).
      const local = this.#libp2p.peerId.toString()
      // (a channel whose connection is closing is on its way out whatever its age: the new one stays)
      // (only two streams on one connection: a cadre's nodes share one PeerId, so a stream on another
      // connection may be another node of it, and the newer one is kept as before)
      const atOnce =
        previous.connection === connection &&
        previous.connection.status === 'open' &&
        performance.now() - previous.openedAt < SIMULTANEOUS_MS
      const newDialledBySmaller = outbound ? local < remotePeer : remotePeer < local
      if (atOnce && !newDialledBySmaller) {
        stream.abort(new Error('duplicate channel'))
        return previous
      }
      this.#close(previous, atOnce)
    }
    const ch = new Channel(stream, connection, outbound, this.#init.maxFrameBytes)
    ch.watch(this.#init.helloTimeoutMs, () => {
      if (ch.repoPeerId === undefined) this.#close(ch)
    })
    this.#channels.set(remotePeer, ch)
    stream.addEventListener('close', () => this.#close(ch), { once: true })
    if (this.#connected) this.#greet(ch)
    void this.#readLoop(ch)
    return ch
  }

  #greet(ch: Channel): void {
    if (this.peerId === undefined) return
    // automerge-repo's cbor.encode builds a new Encoder per call: a fresh customer's channel skips it
    this.#hello ??= cbor.encode({
      t: 'hello',
      peerId: this.peerId,
      meta: this.peerMetadata ?? {}
    } satisfies Frame)
    ch.write(this.#hello)
    this.#announce(ch)
  }

  /** Tell the repo about the remote peer once both hellos are known. */
  #announce(ch: Channel): void {
    if (ch.announced || ch.closed || ch.repoPeerId === undefined || !this.#connected) return
    ch.announced = true
    this.emit('peer-candidate', { peerId: ch.repoPeerId, peerMetadata: ch.meta })
    this.#readiness.wake(ch)
  }

  async #readLoop(ch: Channel): Promise<void> {
    try {
      for (;;) {
        const body = (await ch.lp.read()).subarray()
        // before the decoder sees it: a tagged bignum costs cbor-x the square of its length (cbor-guard.ts)
        assertPlainCbor(body)
        const frame = cbor.decode<Frame>(body)
        await this.#onFrame(ch, frame)
        if (ch.closed) return
      }
    } catch {
      this.#close(ch)
    }
  }

  async #onFrame(ch: Channel, frame: Frame): Promise<void> {
    if (frame === null || typeof frame !== 'object') throw new Error('bad frame')
    switch (frame.t) {
      case 'hello': {
        if (ch.repoPeerId !== undefined || typeof frame.peerId !== 'string') throw new Error('bad hello')
        // the repo peer id is the authenticated PeerId: the share policy's peer is who the connection proved
        if (this.#init.openAccess !== true && frame.peerId !== ch.remotePeer)
          throw new Error('peer id mismatch')
        ch.repoPeerId = frame.peerId as RepoPeerId
        ch.watch(this.#init.idleWithoutDocumentMs, () => {
          if (ch.allowed.size === 0 && ch.pending.size === 0) this.#close(ch)
        })
        // the remote's own metadata is not kept: automerge-repo holds every peer's for good (a stranger's
        // megabytes each) and saves a sync state per storage id it names; a full sync on reconnect is cheap
        // (open access, automerge-repo's own adapter suite: as told, when it is a plain object)
        ch.meta = this.#init.openAccess === true && isPlainObject(frame.meta) ? frame.meta : {}
        this.#announce(ch)
        return
      }
      case 'msg': {
        const m = frame.m
        if (!this.#connected || ch.repoPeerId === undefined || m === null || typeof m !== 'object') return
        if (m.senderId !== ch.repoPeerId || m.targetId !== this.peerId) return
        // the document's own messages only: automerge-repo keeps a counter per ephemeral session for good
        if (this.#init.openAccess !== true && !CARRIED_TYPES.has(m.type)) return
        if (!this.#carries(ch, m)) return
        // the changes it brings are checked before the repo takes them: a refused one closes the channel
        if (
          this.#init.vet !== undefined &&
          m.documentId !== undefined &&
          'data' in m &&
          m.data instanceof Uint8Array
        )
          if (!(await this.#init.vet(m.documentId, m.data, ch.remotePeer))) throw new Error('refused change')
        if (m.documentId !== undefined) this.#init.onTraffic?.(m.documentId, ch.remotePeer, 'in')
        this.emit('message', m)
        return
      }
      case 'open': {
        if (typeof frame.id !== 'number') throw new Error('bad open')
        const documentId =
          typeof frame.tallyId === 'string' && typeof frame.grant === 'string' && this.#init.authorize
            ? await this.#init
                .authorize({ remotePeer: ch.remotePeer, tallyId: frame.tallyId, grant: frame.grant })
                .catch(() => undefined)
            : undefined
        if (documentId === undefined) {
          ch.write({ t: 'refused', id: frame.id })
          if (++ch.refusals > this.#init.maxRefusals) throw new Error('too many refusals')
          return
        }
        // a document this channel already carries gets no second snapshot: each is a whole document, and
        // a few hundred repeated opens (a few bytes each) made a merchant build and queue hundreds of them
        const again = ch.allowed.has(documentId)
        ch.allowed.add(documentId)
        const doc = again ? undefined : await this.#init.snapshot?.(documentId).catch(() => undefined)
        ch.write({ t: 'opened', id: frame.id, documentId, ...(doc === undefined ? {} : { doc }) })
        if (!again && ch.repoPeerId !== undefined)
          this.#init.carried?.(documentId as DocumentId, ch.repoPeerId)
        return
      }
      case 'opened':
      case 'refused': {
        const waiting = ch.pending.get(frame.id)
        if (waiting === undefined) return
        ch.pending.delete(frame.id)
        if (frame.t === 'opened' && typeof frame.documentId === 'string') {
          ch.allowed.add(frame.documentId)
          waiting.resolve({
            documentId: frame.documentId,
            ...(frame.doc instanceof Uint8Array ? { snapshot: frame.doc } : {})
          })
        } else waiting.reject(new GrantRefusedError())
        return
      }
      default:
        throw new Error('unknown frame')
    }
  }

  /** Only document messages of a granted document travel (automerge-repo's gossip of heads is off). */
  #carries(ch: Channel, m: Message): boolean {
    if (this.#init.openAccess === true) return true
    return typeof m.documentId === 'string' && ch.allowed.has(m.documentId)
  }

  #byRepoPeer(repoPeerId: string): Channel | undefined {
    // with strict peer ids the repo peer id is the libp2p PeerId: a direct lookup
    const direct = this.#channels.get(repoPeerId)
    if (direct !== undefined && direct.repoPeerId === repoPeerId && !direct.closed) return direct
    for (const ch of this.#channels.values()) if (ch.repoPeerId === repoPeerId && !ch.closed) return ch
    return undefined
  }

  /** Close `ch`; `superseded`: it lost to a channel opened at the same time (its open requests go again). */
  #close(ch: Channel, superseded = false): void {
    if (ch.closed) return
    ch.closed = true
    ch.watch(undefined)
    this.#readiness.wake(ch)
    if (this.#channels.get(ch.remotePeer) === ch) this.#channels.delete(ch.remotePeer)
    for (const p of ch.pending.values())
      p.reject(superseded ? new ChannelSupersededError() : new GrantRefusedError('the channel closed'))
    ch.pending.clear()
    ch.allowed.clear()
    try {
      ch.stream.abort(new Error('channel closed'))
    } catch {
      // already gone
    }
    if (ch.announced && ch.repoPeerId !== undefined) this.emit('peer-disconnected', { peerId: ch.repoPeerId })
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}

function isPlainObject(v: unknown): v is PeerMetadata {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}
