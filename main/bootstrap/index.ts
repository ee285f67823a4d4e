/** Public API of the Taleus bootstrap protocol library (`taleus/bootstrap`). */
// first: libp2p 3 needs Promise.withResolvers, which Node 20 lacks
import './polyfill.ts'
export * from './types.ts'
export * from './errors.ts'
export * from './messages.ts'
export { FrameStream } from './frames.ts'
export {
  formatLink,
  parseLink,
  linkPeerId,
  LINK_PREFIX,
  LINK_VERSION,
  MAX_LINK_LENGTH,
  MAX_LINK_ADDRS,
  MAX_LINK_APPROVAL_SECONDS
} from './link.ts'
export * from './states.ts'
export { identityFields } from './identity-requirements.ts'
export { deriveTokenId } from './token-info.ts'
export { REASON_MESSAGES, REFUSAL_REASONS, describeFailure } from './reason-words.ts'
export { SessionAbortedError, SessionStoppedError } from './session-base.ts'
export { ListenerSession } from './listener-session.ts'
export type { ListenerSessionInit } from './listener-session.ts'
export { DialerSession, MAX_OUTBOUND_STREAMS } from './dialer-session.ts'
export type { DialerSessionInit } from './dialer-session.ts'
export {
  SessionManager,
  DEFAULT_SESSION_CONFIG,
  MAX_INBOUND_STREAMS,
  MAX_PENDING_CONTACTS
} from './session-manager.ts'
export type {
  SessionManagerInit,
  SessionManagerEvents,
  InitiateBootstrapOptions,
  IncomingStreamData,
  SessionFilter
} from './session-manager.ts'
export { AbuseGuard, DEFAULT_ABUSE_LIMITS, NO_RATE_LIMIT } from './abuse-guard.ts'
export type { AbuseLimits, ListenerOutcome, RefusalCause, RefusalCounts } from './abuse-guard.ts'
export { TokenBuckets, Counts, ipKey } from './rate-limit.ts'
export type { RateLimit, TokenBucketsInit } from './rate-limit.ts'
export {
  VerdictService,
  VerdictUnreachableError,
  VerdictProtocolError,
  VERDICT_PROTOCOL_ID,
  DEFAULT_VERDICT_CONFIG
} from './verdict-service.ts'
export type { VerdictAnswer, VerdictHooks, VerdictServiceInit, VerdictTarget } from './verdict-service.ts'
export {
  decodeVerdictMessage,
  encodeVerdictMessage,
  MAX_VERDICT_FRAME_BYTES,
  VerdictQuerySchema,
  VerdictSchema,
  VerdictRefusedSchema
} from './verdict-messages.ts'
export type {
  VerdictMessage,
  VerdictQuery,
  Verdict,
  VerdictRefused,
  VerdictStatus
} from './verdict-messages.ts'
