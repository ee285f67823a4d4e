/**
 * Shared types of the Taleus bootstrap protocol. This file is the contract between the protocol
 * library (sessions, manager), the merchant store (hooks) and the console service. No I/O here.
 */

import type { IdentityRequirements } from './identity-requirements.ts'

export type { IdentityRequirements } from './identity-requirements.ts'

/**
 * Wire protocol id of this version; one stream carries every frame of one bootstrap. 1.3.0 hands the tally
 * document over as a seed: each party derives the document's first state from it and the draft tally, so
 * no bytes travel and the provisioner makes none while the counterparty waits (docs/protocol.md, Versions).
 */
export const PROTOCOL_ID = '/taleus/bootstrap/1.3.0'

/**
 * The frames of 1.1.0 (the document handed over as bytes); both parties read a tally document whose
 * strings are scalars, so the provisioner writes them so.
 */
export const PROTOCOL_ID_V1_2 = '/taleus/bootstrap/1.2.0'

/** The frames of 1.2.0; the tally document's strings are Automerge text. */
export const PROTOCOL_ID_V1_1 = '/taleus/bootstrap/1.1.0'

/** The first version: the same frames without `dbConnectionInfo.document` (docs/protocol.md, Versions). */
export const PROTOCOL_ID_V1_0 = '/taleus/bootstrap/1.0.0'

/** Every version this library speaks, newest first: what a dialer offers and a listener handles. */
export const PROTOCOL_IDS: readonly string[] = [
  PROTOCOL_ID,
  PROTOCOL_ID_V1_2,
  PROTOCOL_ID_V1_1,
  PROTOCOL_ID_V1_0
]

/** Largest frame body accepted or sent, in bytes. */
export const MAX_FRAME_BYTES = 64 * 1024

/** The listener's role: `stock` = listener (A) provisions the database, `foil` = dialer (B) does. */
export type PartyRole = 'stock' | 'foil'

/** Every reason a bootstrap can end without success; sent on the wire in rejections and Acks. */
export const REASON_CODES = [
  'invalid-token',
  'token-expired',
  'token-used',
  'token-revoked',
  'role-mismatch',
  'identity-required',
  'identity-rejected',
  'party-mismatch',
  'busy',
  'bad-message',
  'timeout',
  'provision-failed',
  'internal-error',
  'unreachable'
] as const

/** One of REASON_CODES. */
export type ReasonCode = (typeof REASON_CODES)[number]

/** What a party reveals about itself to be identified: field name → value (e.g. email, name). */
export type IdentityBundle = Record<string, string>

/** The out-of-band invitation shown by A (as a QR code) and dialled by B. */
export interface BootstrapLink {
  /** Secret bearer token; never logged, never in an event. */
  token: string
  /** Multiaddrs of A, each ending in /p2p/<peerId>; tried in order until one connects. */
  responderPeerAddrs: string[]
  /** The listener's role for this token. */
  role: PartyRole
  /** ISO-8601 UTC expiry, informative for B (A enforces it). */
  tokenExpiryUtc?: string
  /** Identity bundle fields A requires from B: `['email', 'name']`, or the seed's `{ email: true }`. */
  identityRequirements?: IdentityRequirements
  /** Additive: how long A's operator may take to approve B (ms); B waits that much longer for A's response. */
  approvalTimeoutMs?: number
}

/** What validateToken learns about a valid token. Carries no secret. */
export interface TokenInfo {
  /**
   * Stable public id of the token (safe to log). When a hook leaves it out, the library derives one from a
   * hash of the token (`deriveTokenId`), so per-token bounds and single-use checks still work.
   */
  tokenId?: string
  role: PartyRole
  expiryUtc?: string
  /** Fields B must present: a list of names or the seed's `{ email: true }` form. */
  identityRequirements?: IdentityRequirements
  label?: string
  /** Additive: set when an operator approves identities; validateIdentity may wait this long (ms). */
  approvalTimeoutMs?: number
  /**
   * Additive: the token's use limit; absent means unlimited. A limited token gets a much smaller bound on
   * abandoned attempts (AbuseLimits.abandonedPerLimitedToken), so a single-use token cannot be farmed.
   */
  uses?: number
}

/** A token as the library holds it once validateToken accepted it: tokenId filled, requirements a list. */
export interface ValidatedToken extends TokenInfo {
  tokenId: string
  identityRequirements: string[]
}

/** Where and how to reach the shared tally database. `credentials` is secret: never log it. */
export interface DbConnectionInfo {
  nodes: string[]
  credentials: string
  /**
   * Since 1.1.0, optional: the tally's document as provisioned, so the other party stores its replica
   * from this frame (no second stream, no round trip). Never sent to a 1.0.0 peer.
   */
  document?: DbDocument
}

/**
 * A database's initial state of one tally: its document id and either its bytes or (1.3.0) the seed both
 * parties derive it from (each opaque to this library). Exactly one of `data` and `seed`.
 */
export interface DbDocument {
  id: string
  /** The bytes, base64 (RFC 4648 with padding). */
  data?: string
  /** 1.3.0: what the database derives the first state from besides the draft tally (its standing terms). */
  seed?: string
}

/** The minimal draft tally a bootstrap creates. */
export interface DraftTally {
  tallyId: string
  /** Role of the listener for this tally. */
  createdBy: PartyRole
  /** Peer id of the dialer (B). */
  initiatorPeerId: string
  /** Peer id of the listener (A). */
  respondentPeerId: string
  createdAt: string
}

/** A provisioned database: the tally and how to reach it. */
export interface ProvisionResult {
  tally: DraftTally
  dbConnectionInfo: DbConnectionInfo
}

/** Side of a session seen from this node. */
export type Direction = 'inbound' | 'outbound'

/** ListenerSession states (party A); see states.ts for the transition table. */
export type ListenerState =
  | 'L_PROCESS_CONTACT'
  | 'L_SEND_RESPONSE'
  | 'L_AWAIT_ACK'
  | 'L_AWAIT_DATABASE'
  | 'L_DONE'
  | 'L_FAILED'
  | 'L_TIMEOUT'

/** DialerSession states (party B); see states.ts for the transition table. */
export type DialerState =
  | 'D_SEND_CONTACT'
  | 'D_AWAIT_RESPONSE'
  | 'D_HANDLE_RESPONSE'
  | 'D_SEND_ACK'
  | 'D_SEND_DATABASE'
  | 'D_AWAIT_ACK'
  | 'D_DONE'
  | 'D_FAILED'
  | 'D_TIMEOUT'

/** Any session state. */
export type SessionState = ListenerState | DialerState

/** One transition of one session; passed to logSessionEvent and emitted. Never holds a token. */
export interface SessionEvent {
  sessionId: string
  direction: Direction
  state: SessionState
  /** null for the first event of a session. */
  previousState: SessionState | null
  /** Unix epoch milliseconds. */
  at: number
  /** The remote peer (for outbound sessions before connecting: the peer id from the link). */
  peerId: string
  tokenId?: string
  tallyId?: string
  role?: PartyRole
  reason?: ReasonCode
  /** Additive, terminal events only: the other party closed or reset the stream (it left) before the end. */
  peerLeft?: true
}

/** Additive: what the remote party disclosed about itself; never put in a SessionEvent or a log. */
export interface Counterparty {
  /** The listener's view of the dialer's bundle (A only: B's own bundle is not the counterparty's). */
  identityBundle?: IdentityBundle
  /** The remote party's cadre addresses, as it disclosed them. */
  cadrePeerAddrs: string[]
}

/** Context given to every hook call: whose session, and the signal that ends the step. */
export interface HookContext {
  sessionId: string
  direction: Direction
  /** The authenticated remote peer id. */
  remotePeerId: string
  /** Aborted when the step (or session) times out or the session ends: stop waiting then. */
  signal: AbortSignal
  /**
   * Additive: the remote party as disclosed so far. A: set once the contact is read (B's bundle and
   * cadre); B: set once A's approved response is read (A's cadre only).
   */
  counterparty?: Counterparty
  /** Listener: the token validateToken accepted, set from the identity check on (tokenId always filled). */
  token?: ValidatedToken
  /** The bootstrap protocol id the stream negotiated (one of PROTOCOL_IDS), set once the stream is open. */
  protocol?: string
}

/** The context of the listener's hooks that run after validateToken: the accepted token is always there. */
export type TokenHookContext = HookContext & { token: ValidatedToken }

/** The approved ProvisioningResult as the dialer's validateResponse sees it (the seed's ProvisioningResult). */
export interface ResponseInfo {
  approved: true
  role: PartyRole
  partyId: string
  cadrePeerAddrs: string[]
  provisionResult?: ProvisionResult
}

/** Final outcome of a tally after the Ack. */
export type TallySettlement = 'confirmed' | 'abandoned'

/**
 * What settleTally records: a verdict, or (dialer only) `pending` — B committed to the tally (its
 * `Ack {ok:true}` or DatabaseResult went out) but never heard A's verdict, so A may have confirmed it.
 * A pending tally is settled later by asking A (VerdictService, `/taleus/verdict/1.0.0`), never by guessing.
 */
export type TallyOutcome = TallySettlement | 'pending'

/**
 * Application hooks. To reject with a specific reason, throw `new RejectedError(reason)` (errors.ts);
 * any other throw or malformed return fails the session with `internal-error` (`provision-failed` from
 * provisionDatabase). Every hook must honour `ctx.signal`.
 */
export interface SessionHooks {
  /**
   * Listener: check a token without consuming it. `null` (or undefined) means no such token → `invalid-token`;
   * throw RejectedError('token-expired' | 'token-revoked' | 'token-used') to say more.
   */
  validateToken(token: string, ctx: HookContext): Promise<TokenInfo | null | undefined>
  /**
   * Listener: check the bundle against the token's requirements (as validateToken gave them); may wait for an
   * operator (until ctx.signal). The library has already checked that every required field is present.
   * false → identity-rejected.
   */
  validateIdentity?(
    bundle: IdentityBundle,
    requirements: IdentityRequirements | undefined,
    ctx: TokenHookContext
  ): Promise<boolean>
  /** Listener: consume one use atomically after identity passed; throw RejectedError('token-used') when none is left. */
  markTokenUsed?(token: string, sessionId: string, ctx: TokenHookContext): Promise<void>
  /** Listener: give back the use taken by markTokenUsed when the session then fails. */
  releaseToken?(token: string, sessionId: string, ctx: TokenHookContext): Promise<void>
  /** The provisioning party (A in stock, B in foil) creates the tally; it must be durable on return. */
  provisionDatabase(
    role: PartyRole,
    initiatorPeerId: string,
    respondentPeerId: string,
    sessionId: string,
    ctx: HookContext
  ): Promise<ProvisionResult>
  /** Dialer: accept or refuse A's approved response (stock: includes the provisioned database). */
  validateResponse?(response: ResponseInfo, ctx: HookContext): Promise<boolean>
  /** Listener (foil): accept or refuse the database B provisioned; on true it is recorded durably. */
  validateDatabaseResult?(result: ProvisionResult, ctx: HookContext): Promise<boolean>
  /**
   * Both sides: the tally's final status once the verdict is known (Ack). The dialer passes `pending`
   * instead of `abandoned` when it failed after committing (see TallyOutcome).
   */
  settleTally?(tallyId: string, outcome: TallyOutcome, ctx: HookContext): Promise<void>
  /** Audit: every transition. Must not throw; a failure here never fails the session. */
  logSessionEvent?(sessionId: string, event: SessionEvent): Promise<void>
}

/** SessionManager configuration; defaults in session-manager.ts. */
export interface SessionManagerConfig {
  /** Whole-session deadline. Default 30 000. */
  sessionTimeoutMs: number
  /** Deadline of each read, write and hook call. Default 5 000. */
  stepTimeoutMs: number
  /**
   * Deadline of dialling one responder address (connect, Noise, Yamux). Default 20 000: a merchant in a
   * rush queues handshakes on its CPU, far longer than one step.
   */
  dialTimeoutMs?: number
  /** Sessions (both directions) beyond which new contacts get `busy`. Default 100. */
  maxConcurrentSessions: number
  /** Identity bundle B presents when dialling. */
  identityBundle?: IdentityBundle
  /** This node's cadre addresses, disclosed to the other party as the protocol allows. */
  cadrePeerAddrs?: () => string[]
}

/** What a successful bootstrap yields, on either side. */
export interface BootstrapResult {
  sessionId: string
  role: PartyRole
  tally: DraftTally
  dbConnectionInfo: DbConnectionInfo
  /** The other party's peer id and cadre addresses. */
  remotePeerId: string
  remoteCadrePeerAddrs: string[]
}
