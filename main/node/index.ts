/** The Taleus libp2p node factory and its key persistence. */
export {
  createTaleusNode,
  RUSH_LIMITS,
  SOCKET_IDLE_TIMEOUT_MS,
  YAMUX_MAX_EARLY_STREAMS
} from './create-node.ts'
export type { TaleusNodeInit } from './create-node.ts'
export { loadOrCreatePrivateKey } from './private-key.ts'
export { ConnectionGuard, DEFAULT_CONNECTION_GUARD } from './connection-guard.ts'
export type { ConnectionGuardInit, ConnectionGuardStats } from './connection-guard.ts'
