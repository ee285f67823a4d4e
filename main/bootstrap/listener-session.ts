/**
 * ListenerSession: party A's side of one bootstrap, from the contact read on an inbound stream to the
 * final Ack and A's clean close. See LISTENER_TRANSITIONS and docs/protocol.md.
 */
import type { Stream } from '@libp2p/interface'
import { BadMessageError, RejectedError, StreamClosedError, refusal } from './errors.ts'
import type { BootstrapError } from './errors.ts'
import type { ListenerOutcome } from './abuse-guard.ts'
import { FrameStream } from './frames.ts'
import { isProvisionResult } from './messages.ts'
import type { InboundContact } from './messages.ts'
import { isExpired, toValidatedToken } from './token-info.ts'
import { BaseSession, mustAbort, toBootstrapError } from './session-base.ts'
import type { SessionDeps } from './session-base.ts'
import { LISTENER_INITIAL_STATE, LISTENER_TRANSITIONS } from './states.ts'
import type {
  BootstrapResult,
  ListenerState,
  PartyRole,
  ProvisionResult,
  ReasonCode,
  TokenHookContext,
  TokenInfo,
  ValidatedToken
} from './types.ts'

/** Init of one ListenerSession. */
export interface ListenerSessionInit {
  sessionId: string
  stream: Stream
  /** The authenticated remote peer (connection.remotePeer). */
  remotePeerId: string
  /** This node's peer id (A). */
  localPeerId: string
  /** A's cadre, disclosed only in an approved response. */
  cadrePeerAddrs: string[]
  /**
   * Additive: told when the contact frame arrived; false refuses the session with `busy`. Lets the
   * manager keep streams that sent nothing yet out of its session cap (a slowloris holds no slot).
   */
  onContact?: () => boolean
  /**
   * Additive: told the token once validateToken accepted it; false refuses the session with `busy`
   * (a token whose abandoned attempts or pending approvals are at their bound).
   */
  onToken?: (info: ValidatedToken) => boolean
}

/** Reasons a peer brings on itself by what it sent: each charges its rejected-contact bucket. */
const REJECTIONS: ReadonlySet<string> = new Set([
  'invalid-token',
  'token-expired',
  'token-used',
  'token-revoked',
  'identity-required',
  'identity-rejected',
  'party-mismatch',
  'bad-message'
])

/** Party A's session: answers one inbound contact. */
export class ListenerSession extends BaseSession<ListenerState> {
  private readonly frames: FrameStream
  private readonly localPeerId: string
  private readonly cadrePeerAddrs: string[]
  private readonly onContact?: () => boolean
  private readonly onToken?: (info: ValidatedToken) => boolean
  /** The token as validateToken described it, once admitted (the manager counts by it). */
  admittedToken?: ValidatedToken
  /** How the session ended, for the manager's abuse accounting (set when it ends). */
  outcome: ListenerOutcome = 'other'
  private contactRead = false
  /** When the contact was read (Date.now()). */
  private contactAt: number | undefined
  /** Time spent waiting for an operator's decision: a human's pace, not A's. */
  private approvalWaitMs = 0
  /** A's own time from the contact to its answer, operator wait excluded (set when it answered). */
  private answerMs: number | undefined
  /** Refused because its token is at a bound: the peer's doing, charged like a rejection. */
  private tokenBusy = false
  /** Ended from outside (revoked token, eviction, stop): not the peer's doing. */
  private abortedFromOutside = false
  /** Nobody decided on the identity in time: A's own doing, not the peer's. */
  private approvalLapsed = false
  private tokenInfo?: ValidatedToken
  /** The token text B presented (secret): markTokenUsed and releaseToken take it as the seed writes them. */
  private tokenText = ''
  private tokenConsumed = false
  private tallyExists = false
  private settled = false
  /** Our ProvisioningResult went out: later refusals travel in an Ack. */
  private responded = false
  /** The verdict is already on the wire (the peer's Ack{ok:false}, or our Ack): nothing more to send. */
  private verdictSent = false
  /** B waits for our clean close as the sign we confirmed: any failure now must reset instead. */
  private mustReset = false
  /** settleTally('confirmed') was called: the session is committed. */
  private settling = false

  constructor(init: ListenerSessionInit, deps: SessionDeps) {
    super(init.sessionId, 'inbound', LISTENER_TRANSITIONS, LISTENER_INITIAL_STATE, init.remotePeerId, deps)
    this.frames = new FrameStream(init.stream)
    this.protocol = init.stream.protocol
    this.localPeerId = init.localPeerId
    this.cadrePeerAddrs = init.cadrePeerAddrs
    if (init.onContact != null) this.onContact = init.onContact
    if (init.onToken != null) this.onToken = init.onToken
  }

  /** The token id once validateToken accepted it. */
  get acceptedTokenId(): string | undefined {
    return this.tokenId
  }

  /**
   * Past the point of no return: B's positive Ack is in (stock) or A is confirming (foil). Such a session
   * finishes; it is never ended from outside.
   */
  get committed(): boolean {
    return this.mustReset || this.settling || this.done
  }

  /**
   * Ends the session from outside with `reason` (told to B when it can be), unless it is committed.
   * Returns whether it was ended.
   */
  abort(reason: BootstrapError): boolean {
    if (this.committed || this.deps.abort == null) return false
    this.abortedFromOutside = true
    this.deps.abort(reason)
    return true
  }

  /** Runs the session to its end; resolves with the result on L_DONE, undefined otherwise. Never rejects. */
  async execute(): Promise<BootstrapResult | undefined> {
    this.begin()
    try {
      return await this.run()
    } catch (err) {
      await this.fail(err)
      return undefined
    }
  }

  private async run(): Promise<BootstrapResult> {
    const { hooks } = this.deps
    const contact = await this.step((signal) => this.frames.read(['InboundContact'], { signal }))
    this.contactRead = true
    this.contactAt = Date.now()
    if (this.onContact?.() === false) throw refusal('busy')
    if (contact.partyId !== this.remotePeerId) throw new RejectedError('party-mismatch')
    // copies: a hook keeping the context must not see later changes, nor change what we send
    this.counterparty = {
      identityBundle: Object.fromEntries(Object.entries(contact.identityBundle)),
      cadrePeerAddrs: [...contact.cadrePeerAddrs]
    }

    const returned: TokenInfo | null | undefined = await this.hook((ctx) =>
      hooks.validateToken(contact.token, ctx)
    ).catch((err: unknown) => {
      // a token the hook knows and refuses (revoked, expired): the session's events say which one
      if (err instanceof RejectedError && err.tokenId !== undefined) this.tokenId = err.tokenId
      throw err
    })
    // null: the seed's "no such token"
    if (returned == null) throw refusal('invalid-token')
    const tokenInfo = toValidatedToken(returned, contact.token)
    if (tokenInfo === undefined) throw new RejectedError('internal-error', 'validateToken returned garbage')
    if (isExpired(tokenInfo)) throw new RejectedError('token-expired')
    this.tokenText = contact.token
    this.tokenInfo = tokenInfo
    this.validatedToken = tokenInfo
    this.tokenId = tokenInfo.tokenId
    this.role = tokenInfo.role
    if (this.onToken != null && !this.onToken(tokenInfo)) {
      this.tokenBusy = true
      throw refusal('busy')
    }
    this.admittedToken = tokenInfo

    await this.checkIdentity(contact, tokenInfo, returned.identityRequirements)

    if (hooks.markTokenUsed != null) {
      await this.hook((ctx) => hooks.markTokenUsed!(contact.token, ctx.sessionId, ctx as TokenHookContext))
      this.tokenConsumed = true
    }

    let provisionResult: ProvisionResult | undefined
    if (tokenInfo.role === 'stock') {
      provisionResult = await this.hook(
        (ctx) => hooks.provisionDatabase('stock', this.remotePeerId, this.localPeerId, ctx.sessionId, ctx),
        'provision-failed'
      )
      if (!isProvisionResult(provisionResult) || !this.tallyMatches(provisionResult, 'stock')) {
        throw new RejectedError('provision-failed', 'provisionDatabase returned garbage')
      }
      this.tallyId = provisionResult.tally.tallyId
      this.tallyExists = true
    }

    this.enter('L_SEND_RESPONSE')
    await this.step((signal) =>
      this.frames.write(
        {
          type: 'ProvisioningResult',
          approved: true,
          role: tokenInfo.role,
          partyId: this.localPeerId,
          cadrePeerAddrs: this.cadrePeerAddrs,
          ...(provisionResult != null ? { provisionResult } : {})
        },
        { signal }
      )
    )
    this.responded = true
    this.answerMs = this.ownTime()

    if (provisionResult != null) {
      this.enter('L_AWAIT_ACK')
      const ack = await this.step((signal) => this.frames.read(['Ack'], { signal }))
      if (!ack.ok) {
        this.verdictSent = true
        throw new RejectedError(ack.reason)
      }
      this.mustReset = true
      await this.settle(provisionResult.tally.tallyId)
      await this.tellConfirmed((signal) => this.frames.closeWrite({ signal }))
      this.outcome = 'done'
      this.enter('L_DONE')
      return this.result(tokenInfo.role, provisionResult, contact)
    }

    this.enter('L_AWAIT_DATABASE')
    const message = await this.step((signal) => this.frames.read(['DatabaseResult', 'Ack'], { signal }))
    if (message.type === 'Ack') {
      this.verdictSent = true
      throw message.ok ? new BadMessageError('Ack before DatabaseResult') : new RejectedError(message.reason)
    }
    const database: ProvisionResult = { tally: message.tally, dbConnectionInfo: message.dbConnectionInfo }
    if (!this.tallyMatches(database, 'foil')) throw new RejectedError('party-mismatch')
    if (hooks.validateDatabaseResult != null) {
      const ok = await this.hook((ctx) => hooks.validateDatabaseResult!(database, ctx))
      if (typeof ok !== 'boolean')
        throw new RejectedError('internal-error', 'validateDatabaseResult returned garbage')
      if (!ok) throw new RejectedError('provision-failed')
    }
    this.tallyId = database.tally.tallyId
    this.tallyExists = true
    // confirm before the positive Ack, as in stock: B must never report a tally A failed to confirm
    await this.settle(database.tally.tallyId)
    await this.tellConfirmed(async (signal) => {
      await this.frames.write({ type: 'Ack', ok: true }, { signal })
      this.verdictSent = true
      await this.frames.closeWrite({ signal })
    })
    this.outcome = 'done'
    this.enter('L_DONE')
    return this.result(tokenInfo.role, database, contact)
  }

  private async checkIdentity(
    contact: InboundContact,
    tokenInfo: ValidatedToken,
    requirements: TokenInfo['identityRequirements']
  ): Promise<void> {
    const required = tokenInfo.identityRequirements
    const { hooks } = this.deps
    if (required.length === 0 && hooks.validateIdentity == null) return
    const bundle = contact.identityBundle
    for (const field of required) {
      const value = Object.hasOwn(bundle, field) ? bundle[field] : undefined
      if (value == null || value.trim() === '') throw new RejectedError('identity-required')
    }
    if (hooks.validateIdentity == null) return
    const timeoutMs = this.identityTimeout(tokenInfo)
    // a peer that closes its side while an operator looks at it has left: its approval card must go
    const off =
      timeoutMs != null
        ? this.frames.onRemoteClose(() => this.deps.abort?.(new StreamClosedError('the other party left')))
        : () => {}
    const lapse = this.approvalLapse(tokenInfo)
    const waitFrom = Date.now()
    let ok: boolean
    try {
      ok = await this.hook(
        (ctx) => hooks.validateIdentity!(bundle, requirements, ctx as TokenHookContext),
        'internal-error',
        timeoutMs
      )
    } finally {
      off()
      clearTimeout(lapse)
      if (timeoutMs != null) this.approvalWaitMs += Date.now() - waitFrom
    }
    if (typeof ok !== 'boolean')
      throw new RejectedError('internal-error', 'validateIdentity returned garbage')
    if (!ok) throw new RejectedError('identity-rejected')
  }

  /**
   * An operator decides at human speed: with a token that waits for one, the identity step (and the
   * whole session) get the approval wait plus one step as margin, so the store's own approval timer
   * fires first and B hears a clear `timeout` rejection instead of a reset.
   */
  private identityTimeout(tokenInfo: ValidatedToken): number | undefined {
    const approvalMs = tokenInfo.approvalTimeoutMs
    if (approvalMs == null) return undefined
    const { stepTimeoutMs } = this.deps.config
    this.deps.extendDeadline?.(approvalMs + stepTimeoutMs)
    return Math.max(stepTimeoutMs, approvalMs + stepTimeoutMs)
  }

  /**
   * Nobody decided within the approval wait (a hook with no timer of its own, waiting on its signal): B is
   * told `timeout` and the hook's signal aborts, before the step's deadline would reset the stream. Half a
   * step after the wait, so a store's own approval timer (at the wait) answers first.
   */
  private approvalLapse(tokenInfo: ValidatedToken): ReturnType<typeof setTimeout> | undefined {
    const approvalMs = tokenInfo.approvalTimeoutMs
    const abort = this.deps.abort
    if (approvalMs == null || abort == null) return undefined
    return setTimeout(
      () => {
        this.approvalLapsed = true
        abort(new RejectedError('timeout', 'nobody decided in time'))
      },
      approvalMs + this.deps.config.stepTimeoutMs / 2
    )
  }

  /** The tally names B as initiator, A as respondent, and the listener's role. */
  private tallyMatches(result: ProvisionResult, role: PartyRole): boolean {
    const { tally } = result
    return (
      tally.createdBy === role &&
      tally.initiatorPeerId === this.remotePeerId &&
      tally.respondentPeerId === this.localPeerId
    )
  }

  /**
   * The tally is confirmed on our side: what is left is telling B. If B has left meanwhile (or the step
   * runs out), the session still ends done, as the tally is: B learns it from its verdict query, and an
   * operator must not read a customer who has a tally as failed.
   */
  private async tellConfirmed(send: (signal: AbortSignal) => Promise<void>): Promise<void> {
    try {
      await this.step(send)
    } catch (err) {
      this.frames.abort(err as Error)
    }
  }

  private async settle(tallyId: string): Promise<void> {
    this.settling = true
    const { hooks } = this.deps
    if (hooks.settleTally != null) await this.hook((ctx) => hooks.settleTally!(tallyId, 'confirmed', ctx))
    this.settled = true
  }

  private result(role: PartyRole, provision: ProvisionResult, contact: InboundContact): BootstrapResult {
    return {
      sessionId: this.sessionId,
      role,
      tally: provision.tally,
      dbConnectionInfo: provision.dbConnectionInfo,
      remotePeerId: this.remotePeerId,
      remoteCadrePeerAddrs: contact.cadrePeerAddrs
    }
  }

  private async fail(err: unknown): Promise<void> {
    const error = toBootstrapError(err)
    this.outcome = this.classify(error)
    if (error.name === 'SessionStoppedError' && this.contactRead && !this.responded && !this.mustReset) {
      // our node is stopping before it answered (e.g. while its operator decides): B hears `busy` and may
      // come back once we are up, rather than a reset it can only read as a fault. Once we answered, a
      // reset is still the answer: B's verdict query then learns what became of the tally.
      await this.tell('busy')
    } else if (mustAbort(error) || this.mustReset) {
      this.frames.abort(error)
    } else if (this.verdictSent) {
      const scope = this.cleanupScope()
      await this.frames.closeWrite({ signal: scope.signal })
      scope.clear()
    } else {
      await this.tell(error.reason)
    }
    const { hooks } = this.deps
    if (this.tallyExists && !this.settled && hooks.settleTally != null && this.tallyId != null) {
      const tallyId = this.tallyId
      await this.cleanupHook((ctx) => hooks.settleTally!(tallyId, 'abandoned', ctx))
    }
    if (this.tokenConsumed && hooks.releaseToken != null && this.tokenInfo != null) {
      const token = this.tokenText
      await this.cleanupHook((ctx) => hooks.releaseToken!(token, ctx.sessionId, ctx as TokenHookContext))
    }
    this.enter(
      error.name === 'TimeoutError' ? 'L_TIMEOUT' : 'L_FAILED',
      error.reason,
      error.name === 'StreamClosedError'
    )
  }

  /**
   * Whose doing the failure was. `rejected`: the peer sent something A refuses; `abandoned`: its token
   * was accepted, then it left or never finished, A having answered in time; `idle`: it never sent a
   * contact; `other`: A's own failure or slowness, a stop, an eviction or a revoke.
   */
  private classify(error: BootstrapError): ListenerOutcome {
    if (this.abortedFromOutside || this.approvalLapsed || error.name === 'SessionStoppedError') return 'other'
    if (!this.contactRead) return error.name === 'BadMessageError' ? 'rejected' : 'idle'
    const peerLeft = error.name === 'StreamClosedError'
    if (this.admittedToken != null && (this.responded || peerLeft)) return this.slow() ? 'other' : 'abandoned'
    if (this.tokenBusy) return 'rejected'
    if (error.name === 'RejectedError' || error.name === 'BadMessageError') {
      return REJECTIONS.has(error.reason) ? 'rejected' : 'other'
    }
    return peerLeft ? 'idle' : 'other'
  }

  /** A's own time since the contact (ms), not counting an operator's decision. */
  private ownTime(): number {
    return this.contactAt === undefined ? 0 : Date.now() - this.contactAt - this.approvalWaitMs
  }

  /**
   * A took over half a step of its own to answer (or had spent that long without answering when the peer
   * left): a customer who gives up then was failed by A's backlog, not abandoning, and must not count against the token
   * (a rush that outruns A would otherwise lock its public QR for everyone). A holder of the token cannot
   * make A slow for its own session: A's hooks answer in milliseconds unless A is overloaded.
   */
  private slow(): boolean {
    return (this.answerMs ?? this.ownTime()) > this.deps.config.stepTimeoutMs / 2
  }

  /** Tells the peer why: a rejection before our response, an Ack{ok:false} after it; then closes. */
  private async tell(reason: ReasonCode): Promise<void> {
    const scope = this.cleanupScope()
    const { signal } = scope
    try {
      if (!this.responded) {
        await this.frames.write(
          {
            type: 'ProvisioningResult',
            approved: false,
            reason,
            ...(this.role != null ? { role: this.role } : {})
          },
          { signal }
        )
      } else {
        await this.frames.write({ type: 'Ack', ok: false, reason }, { signal })
      }
      await this.frames.closeWrite({ signal })
    } catch (err) {
      this.frames.abort(err as Error)
    } finally {
      scope.clear()
    }
  }
}
