/** The options, defaults and events of SessionManager. */
import type { AbuseLimits } from './abuse-guard.ts'
import type { InvalidStreamError } from './errors.ts'
import type { IdentityBundle, SessionEvent, SessionManagerConfig } from './types.ts'

/** Defaults of SessionManagerConfig, filled once in the constructor. */
export const DEFAULT_SESSION_CONFIG = {
  sessionTimeoutMs: 30_000,
  stepTimeoutMs: 5_000,
  maxConcurrentSessions: 100,
  // bounded by libp2p's own connectionManager.addressDialTimeout (6 s by default): raise that too
  dialTimeoutMs: 20_000
} as const satisfies Partial<SessionManagerConfig>

/** Inbound bootstrap streams accepted per connection (libp2p's default of 32 breaks a rush). */
export const MAX_INBOUND_STREAMS = 2048

/**
 * Inbound streams that have not sent their contact yet, kept beside (not inside) maxConcurrentSessions;
 * past this many the oldest such stream is reset, so idle streams (a slowloris) never lock customers out.
 */
export const MAX_PENDING_CONTACTS = 1024

/** SessionManager options: the config plus, when handleNewStream is wired by hand, this node's peer id. */
export interface SessionManagerInit extends Partial<SessionManagerConfig> {
  /** This node's peer id; taken from the node given to start() when omitted. */
  localPeerId?: string
  /** Additive: inbound streams still waiting for their contact frame; default MAX_PENDING_CONTACTS. */
  maxPendingContacts?: number
  /** Additive: per-peer, per-IP and per-token bounds on abuse; defaults in DEFAULT_ABUSE_LIMITS. */
  abuseLimits?: Partial<AbuseLimits>
}

/** Which running sessions abortSessions ends. */
export interface SessionFilter {
  /** Listener sessions whose contact presented this token. */
  tokenId?: string
}

/** Events a SessionManager emits. */
export interface SessionManagerEvents {
  /** One transition of one session (never holds a token). */
  session: CustomEvent<SessionEvent>
  /** handleNewStream was called wrongly (no stream, no connection, or before the local peer id is known). */
  'stream-error': CustomEvent<InvalidStreamError>
}

/** Options of initiateBootstrap. */
export interface InitiateBootstrapOptions {
  /** Identity presented to A; defaults to config.identityBundle, then {}. */
  identityBundle?: IdentityBundle
  /** Use this session id instead of a random one. */
  sessionId?: string
  /** Aborts the session (it ends D_FAILED). */
  signal?: AbortSignal
}
