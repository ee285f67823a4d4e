/**
 * The Taleus libp2p node: TCP + Noise + Yamux + identify, optional mDNS, with connection limits sized
 * for a merchant's rush (libp2p's defaults refuse most of 200 simultaneous customers).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { mdns } from '@libp2p/mdns'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { keyObjectCrypto } from './noise-crypto.ts'
import { quietLogger } from './quiet-logger.ts'
import { coalescingEncrypter, joiningGater, lazyWindowYamux } from './wire.ts'
import { optimisticSelectMuxer } from './optimistic-select.ts'
import { fastPaths } from './fast-paths.ts'
import { selfRecord } from './self-record.ts'
import { signOnceEncrypter } from './noise-signature.ts'
import type { Libp2pOptions } from 'libp2p'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { ConnectionGuard } from './connection-guard.ts'
import type { ConnectionGuardInit } from './connection-guard.ts'

/** Options of createTaleusNode. */
export interface TaleusNodeInit {
  /** Listen multiaddrs. Default ['/ip4/127.0.0.1/tcp/0']. */
  listen?: string[]
  /** Announce and discover peers on the LAN with mDNS. Default false. */
  mdns?: boolean
  /** The node's identity; a fresh Ed25519 key when omitted. */
  privateKey?: PrivateKey
  /** Per-peer and per-IP caps, idle reaping and room for new peers (see connection-guard.ts). */
  connectionGuard?: ConnectionGuardInit
  /** Record the protocols of each peer's streams in the peer store, as stock libp2p does. Default false (fast-paths.ts). */
  recordStreamProtocols?: boolean
  /**
   * Seal our signed peer record once per set of addresses, and keep our own peer data in memory, for
   * identify's answers (self-record.ts). Default true; false seals and reads both per answer, as stock
   * libp2p does.
   */
  cachePeerRecord?: boolean
  /** Close a TCP connection after this long without a byte (default SOCKET_IDLE_TIMEOUT_MS; tests). */
  socketIdleTimeoutMs?: number
}

/** Connection-manager limits for a rush of customers (see shared notes: defaults are 5/s and 10 pending). */
export const RUSH_LIMITS = {
  maxConnections: 1024,
  inboundConnectionThreshold: 1024,
  // a rush of 1000 fresh customers arrives at once: above this many handshakes in progress libp2p
  // closes new sockets outright
  maxIncomingPendingConnections: 1024,
  maxParallelDials: 100,
  // those handshakes share the merchant's CPU (Noise: ~15 ms each here), so the last ones finish after
  // 10-20 s on 2 cores, past libp2p's 10 s upgrade and 6 s per-address dial defaults (bench/, docs/performance.md)
  inboundUpgradeTimeout: 30_000,
  addressDialTimeout: 30_000
} as const

/**
 * How long a TCP connection may carry nothing before it is closed. libp2p's default, 2 minutes, cut a
 * customer waiting for the operator's approval (a token may ask for up to 24 h:
 * MAX_APPROVAL_TIMEOUT_MS in main/views) since, without yamux's keep-alive pings (docs/performance.md),
 * nothing crosses the connection meanwhile. What is stuck is ended by the sessions' deadlines and the connection guard; the kernel's
 * keep-alive probes (SOCKET_KEEPALIVE) find a peer that vanished and keep NAT mappings open.
 */
export const SOCKET_IDLE_TIMEOUT_MS = 25 * 60 * 60_000

/** Kernel TCP keep-alive on every socket: no JavaScript and no bytes on the wire while data flows. */
const SOCKET_KEEPALIVE = { keepAlive: true, keepAliveInitialDelay: 60_000 } as const

/** Streams a peer may open on a new connection before it is fully set up (yamux default: 10). */
export const YAMUX_MAX_EARLY_STREAMS = 512

/** libp2p's logger only when DEBUG asks for it: the default costs per connection even when silent. */
const QUIET_LOGGER = quietLogger()

/** Creates and starts a Taleus node. */
export async function createTaleusNode(init: TaleusNodeInit = {}): Promise<Libp2p> {
  const peerDiscovery: NonNullable<Libp2pOptions['peerDiscovery']> = init.mdns === true ? [mdns()] : []
  const guard = new ConnectionGuard(init.connectionGuard)
  return createLibp2p({
    ...(init.privateKey != null ? { privateKey: init.privateKey } : {}),
    addresses: { listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
    transports: [
      tcp({
        inboundSocketInactivityTimeout: init.socketIdleTimeoutMs ?? SOCKET_IDLE_TIMEOUT_MS,
        outboundSocketInactivityTimeout: init.socketIdleTimeoutMs ?? SOCKET_IDLE_TIMEOUT_MS,
        dialOpts: SOCKET_KEEPALIVE,
        listenOpts: SOCKET_KEEPALIVE
      })
    ],
    // same bytes on the wire as noise()'s default; X25519 keys stay KeyObjects (docs/performance.md)
    // its static-key signature made once (noise-signature.ts),
    // and the frames of one event-loop turn leave as one Noise message and one socket write (wire.ts)
    connectionEncrypters: [coalescingEncrypter(signOnceEncrypter(noise({ crypto: keyObjectCrypto })))],
    // a wallet may open many bootstrap streams before A's side of a fresh connection is wired up;
    // yamux's default of 10 such early streams resets the whole connection. Window updates only when
    // due (wire.ts); no keep-alive ping per connection (docs/performance.md: what it gave); a stream
    // opened with negotiateFully: false sends its first data with its protocol (optimistic-select.ts)
    streamMuxers: [
      optimisticSelectMuxer(
        lazyWindowYamux(yamux({ maxEarlyStreams: YAMUX_MAX_EARLY_STREAMS, enableKeepAlive: false }))
      )
    ],
    peerDiscovery,
    connectionManager: { ...RUSH_LIMITS },
    ...(QUIET_LOGGER != null ? { logger: QUIET_LOGGER } : {}),
    // pings every open connection every 10 s; dead and idle connections are closed by the transport's
    // errors and the connection guard instead (docs/performance.md: what is given up)
    connectionMonitor: { enabled: false },
    // without caps one host fills the table with idle connections and every customer is refused
    // (and each write one socket write from the first byte: wire.ts)
    connectionGater: joiningGater(guard.gater),
    // identify answers peers that ask, and runs on demand (`node.services.identify.identify(connection)`),
    // not on every new connection: nothing in Taleus reads what it learns (docs/performance.md)
    // fastPaths: no peer-store record per customer's streams, getConnections() in O(n) (fast-paths.ts)
    // selfRecord: identify's answer carries a peer record signed once per set of addresses (self-record.ts)
    services: {
      identify: identify({ runOnConnectionOpen: false }),
      connectionGuard: guard.service,
      fastPaths: fastPaths({ recordStreamProtocols: init.recordStreamProtocols === true }),
      ...(init.cachePeerRecord !== false ? { selfRecord: selfRecord() } : {})
    }
  })
}
