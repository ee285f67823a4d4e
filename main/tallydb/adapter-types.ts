/** The options of Libp2pNetworkAdapter and what its open requests ask and answer. */
import type { DocumentId, PeerId as RepoPeerId } from '@automerge/automerge-repo/slim'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** What `authorize` is asked: may `remotePeer` (authenticated) open `tallyId` with `grant`? */
export interface OpenRequest {
  remotePeer: string
  tallyId: string
  grant: string
}

/** A granted open: the document the channel now carries, and its snapshot when the provisioner sent one. */
export interface Opened {
  documentId: DocumentId
  snapshot?: Uint8Array
}

/** Options of Libp2pNetworkAdapter. */
export interface Libp2pNetworkAdapterInit {
  /** Decides an open request; the documentId to carry on this channel, or undefined to refuse. */
  authorize?(request: OpenRequest): Promise<DocumentId | undefined>
  /**
   * The document as it is now, sent with a granted open so the opener holds a replica after one round
   * trip (sync messages then carry every later change). Optional: without it the opener syncs from scratch.
   */
  snapshot?(documentId: DocumentId): Promise<Uint8Array | undefined>
  /**
   * A channel carries `documentId` to `repoPeerId` from now on, since the peer opened it on a new channel:
   * the repo should start that peer's sync of it afresh. A message sent on the channel before (a change on
   * its way when that channel closed) may never have arrived, and automerge-repo would otherwise go on
   * with the sync state that counts it as sent.
   */
  carried?(documentId: DocumentId, repoPeerId: RepoPeerId): void
  /**
   * Checks the changes a document message from `remotePeer` brings (`data`: the sync message) before the
   * repo takes them; false drops the message and closes the channel. Optional: without it all are taken.
   */
  vet?(documentId: DocumentId, data: Uint8Array, remotePeer: string): Promise<boolean>
  /** Called with every document message carried (either way), for sync-state bookkeeping. */
  onTraffic?(documentId: DocumentId, remotePeer: string, direction: 'in' | 'out'): void
  /** Tests only: every document to every peer, any repo peer id. Default false. */
  openAccess?: boolean
  /** Peers (or their addresses) to open a channel to on connect(): the acceptance tests. */
  dialPeers?: Array<PeerId | Multiaddr>
  /** Largest frame in bytes. Default just under 4 MiB, what libp2p's stream reader holds. */
  maxFrameBytes?: number
  /** A channel whose peer sends no hello within this is closed. Default 10 000. */
  helloTimeoutMs?: number
  /** A channel that carries no document this long after the hellos is closed. Default 30 000. */
  idleWithoutDocumentMs?: number
  /** Streams of this protocol one connection may open to us. Default 8 (one is used). */
  maxInboundStreams?: number
  /** Open requests in flight per channel. Default 256. */
  maxPendingOpens?: number
  /** Refused opens after which a channel is reset. Default 32. */
  maxRefusals?: number
}
