/**
 * Our signed peer record, sealed once per set of addresses instead of once per identify answer, and our
 * own peer data read from memory instead of decoded from the peer store on every request.
 *
 * `@libp2p/identify` answers with the envelope the peer store holds for our own peer id and, when it
 * holds none, seals a new one for every request: an Ed25519 signature, a protobuf encoding and a fresh
 * sequence number per customer whose wallet runs identify (stock libp2p does, on every connection).
 * libp2p never stores our own envelope, so that is every request. This service seals the record after
 * start and again only when our addresses change (a listener opening or closing, `self:peer:update`), and
 * stores it where identify looks. Same message on the wire; the sequence number now moves only when the addresses do, which is
 * what it is for (a peer keeps the record with the highest one).
 *
 * Identify also reads our own peer data (protocols, that envelope) from the peer store per answer: a read
 * lock, a datastore read and a protobuf decode, 17 % of an answer. Our own data changes only through the
 * peer store's writes, each announced by `self:peer:update`, so the last read is kept until the next one
 * (each caller gets its own copy).
 */
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { CODE_P2P } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type {
  AbortOptions,
  Libp2pEvents,
  Peer,
  PeerData,
  PeerId,
  PrivateKey,
  Startable,
  TypedEventTarget
} from '@libp2p/interface'

/** What the service needs from libp2p (a service's components). */
export interface SelfRecordComponents {
  peerId: PeerId
  privateKey: PrivateKey
  events: TypedEventTarget<Libp2pEvents>
  peerStore: {
    patch(id: PeerId, data: PeerData): Promise<unknown>
    get(id: PeerId, options?: AbortOptions): Promise<Peer>
  }
  addressManager: { getAddresses(): Multiaddr[] }
}

/** The service: `services: { selfRecord: selfRecord() }`. */
export class SelfRecord implements Startable {
  readonly [Symbol.toStringTag] = 'taleus:self-record'
  /** Records sealed since start (tests, diagnostics). */
  sealed = 0
  /** The addresses of the record stored, as identify lists them (undefined: none stored yet). */
  #stored: string | undefined
  #seq = 0n
  #running: Promise<void> | undefined
  #again = false
  #started = false
  /** Our own peer data as last read, while no write of it has been announced since. */
  #self: Peer | undefined
  /** Writes of our own peer data announced so far: a read that spans one is not kept. */
  #writes = 0
  readonly #onUpdate = (): void => {
    void this.refresh()
  }

  constructor(private readonly components: SelfRecordComponents) {
    const { peerStore, peerId, events } = components
    // from construction on: libp2p writes our protocols and addresses while it starts
    events.addEventListener('self:peer:update', () => {
      this.#writes++
      this.#self = undefined
    })
    const get = peerStore.get.bind(peerStore)
    peerStore.get = async (id, options) => {
      if (!id.equals(peerId)) return get(id, options)
      if (this.#self !== undefined) return copyOf(this.#self)
      const writes = this.#writes
      const peer = await get(id, options)
      if (writes === this.#writes) this.#self = peer
      return copyOf(peer)
    }
  }

  start(): void {
    this.#started = true
  }

  afterStart(): void {
    const { events } = this.components
    // a listener that opens or closes changes the addresses before the peer store hears of them
    events.addEventListener('self:peer:update', this.#onUpdate)
    events.addEventListener('transport:listening', this.#onUpdate)
    events.addEventListener('transport:close', this.#onUpdate)
    void this.refresh()
  }

  stop(): void {
    this.#started = false
    const { events } = this.components
    events.removeEventListener('self:peer:update', this.#onUpdate)
    events.removeEventListener('transport:listening', this.#onUpdate)
    events.removeEventListener('transport:close', this.#onUpdate)
  }

  /** Seals and stores a new record if our addresses differ from the stored one's; resolves once done. */
  refresh(): Promise<void> {
    if (this.#running !== undefined) {
      // an update while sealing: look again once this one is stored
      this.#again = true
      return this.#running
    }
    this.#running = this.#update()
      .catch(() => {
        // the next update tries again (until one is stored, identify seals per request, as stock libp2p does)
        this.#stored = undefined
      })
      .finally(() => {
        this.#running = undefined
        if (this.#again) {
          this.#again = false
          void this.refresh()
        }
      })
    return this.#running
  }

  async #update(): Promise<void> {
    if (!this.#started) return
    const { peerId, privateKey, peerStore, addressManager } = this.components
    // exactly the list identify sends as listenAddrs, so the record certifies what is announced
    const multiaddrs = addressManager.getAddresses().map((ma) => ma.decapsulateCode(CODE_P2P))
    const key = multiaddrs.map((ma) => ma.toString()).join(' ')
    if (key === this.#stored) return
    // with no address left, a record of none (newer) replaces the old one rather than vouch for it
    if (multiaddrs.length === 0 && this.#stored === undefined) return
    // strictly increasing even for two changes within one millisecond (a peer ignores an equal one)
    const now = BigInt(Date.now())
    this.#seq = now > this.#seq ? now : this.#seq + 1n
    const envelope = await RecordEnvelope.seal(
      new PeerRecord({ peerId, multiaddrs, seqNumber: this.#seq }),
      privateKey
    )
    this.sealed++
    // stored first: our own patch is a self:peer:update too, and must find nothing to do
    this.#stored = key
    await peerStore.patch(peerId, { peerRecordEnvelope: envelope.marshal() })
  }
}

/** A copy a caller may change without changing what the next caller gets. */
function copyOf(peer: Peer): Peer {
  return {
    ...peer,
    addresses: [...peer.addresses],
    protocols: [...peer.protocols],
    metadata: new Map(peer.metadata),
    tags: new Map(peer.tags)
  }
}

/** A libp2p service factory for SelfRecord. */
export function selfRecord(): (components: SelfRecordComponents) => SelfRecord {
  return (components) => new SelfRecord(components)
}
