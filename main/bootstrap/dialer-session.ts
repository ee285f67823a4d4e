/**
 * DialerSession: party B's side of one bootstrap, from dialling a responder address to the verdict.
 * In stock B succeeds only after A's clean close following B's Ack, so B never reports a tally that A
 * did not confirm. See DIALER_TRANSITIONS and docs/protocol.md.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p, Stream } from '@libp2p/interface'
import { abortError, scopedSignal } from './abort.ts'
import { BadMessageError, DialFailedError, RejectedError } from './errors.ts'
import { FrameStream } from './frames.ts'
import { isProvisionResult } from './messages.ts'
import type { ApprovedProvisioningResult } from './messages.ts'
import { BaseSession, SessionStoppedError, mustAbort, toBootstrapError } from './session-base.ts'
import type { SessionDeps } from './session-base.ts'
import { DIALER_INITIAL_STATE, DIALER_TRANSITIONS } from './states.ts'
import { PROTOCOL_ID } from './types.ts'
import type {
  BootstrapLink,
  BootstrapResult,
  DialerState,
  IdentityBundle,
  PartyRole,
  ProvisionResult,
  ReasonCode
} from './types.ts'

/** Outbound streams allowed per connection for the bootstrap protocol (a wallet may retry a lot). */
export const MAX_OUTBOUND_STREAMS = 2048

/** Default deadline of one responder address; see SessionManagerConfig.dialTimeoutMs. */
export const DEFAULT_DIAL_TIMEOUT_MS = 20_000

/** Init of one DialerSession. */
export interface DialerSessionInit {
  sessionId: string
  link: BootstrapLink
  node: Pick<Libp2p, 'dialProtocol' | 'peerId'>
  /** The responder's peer id, from the link. */
  remotePeerId: string
  identityBundle: IdentityBundle
  /** B's cadre, disclosed first, in the contact. */
  cadrePeerAddrs: string[]
}

/** Party B's session: dials A with a link and runs the bootstrap. */
export class DialerSession extends BaseSession<DialerState> {
  private readonly init: DialerSessionInit
  private readonly localPeerId: string
  private frames?: FrameStream
  private tallyExists = false
  private settled = false
  /** Our contact is out, so A expects an answer: refusals now travel in an Ack. */
  private contactSent = false
  /** The verdict is on the wire (A's rejection or Ack, or our Ack): nothing more to tell. */
  private verdictSent = false

  constructor(init: DialerSessionInit, deps: SessionDeps) {
    super(init.sessionId, 'outbound', DIALER_TRANSITIONS, DIALER_INITIAL_STATE, init.remotePeerId, deps)
    this.init = init
    this.localPeerId = init.node.peerId.toString()
    this.role = init.link.role
  }

  /** Runs the session; resolves on D_DONE, rejects with the BootstrapError that ended it otherwise. */
  async execute(): Promise<BootstrapResult> {
    this.begin()
    try {
      return await this.run()
    } catch (err) {
      throw await this.fail(err)
    }
  }

  private async run(): Promise<BootstrapResult> {
    const { hooks } = this.deps
    const { link } = this.init
    const responseWaitMs = this.responseWait()
    const frames = new FrameStream(await this.dial())
    this.frames = frames
    await this.step((signal) =>
      frames.write(
        {
          type: 'InboundContact',
          token: link.token,
          partyId: this.localPeerId,
          identityBundle: this.init.identityBundle,
          cadrePeerAddrs: this.init.cadrePeerAddrs
        },
        { signal }
      )
    )
    this.contactSent = true

    this.enter('D_AWAIT_RESPONSE')
    const response = await this.step(
      (signal) => frames.read(['ProvisioningResult'], { signal }),
      responseWaitMs
    )
    this.enter('D_HANDLE_RESPONSE')
    if (!response.approved) {
      this.verdictSent = true
      throw new RejectedError(response.reason)
    }
    if (response.role !== link.role) throw new RejectedError('role-mismatch')
    if (response.partyId !== this.remotePeerId) throw new RejectedError('party-mismatch')
    this.checkProvision(response)
    this.counterparty = { cadrePeerAddrs: [...response.cadrePeerAddrs] }

    if (hooks.validateResponse != null) {
      const ok = await this.hook((ctx) =>
        hooks.validateResponse!(
          {
            approved: true,
            role: response.role,
            partyId: response.partyId,
            cadrePeerAddrs: response.cadrePeerAddrs,
            ...(response.provisionResult != null ? { provisionResult: response.provisionResult } : {})
          },
          ctx
        )
      )
      if (typeof ok !== 'boolean')
        throw new RejectedError('internal-error', 'validateResponse returned garbage')
      if (!ok) throw new RejectedError('identity-rejected')
    }

    if (response.provisionResult != null) {
      const provision = response.provisionResult
      this.tallyId = provision.tally.tallyId
      this.tallyExists = true
      this.enter('D_SEND_ACK')
      await this.step((signal) => frames.write({ type: 'Ack', ok: true }, { signal }))
      this.verdictSent = true
      // A closes only after settling the tally as confirmed: its clean EOF is our success
      await this.step((signal) => frames.readEnd({ signal }))
      await this.settle(provision.tally.tallyId)
      await this.step((signal) => frames.closeWrite({ signal }))
      this.enter('D_DONE')
      return this.result(response, provision)
    }

    this.enter('D_SEND_DATABASE')
    const provision = await this.hook(
      (ctx) => hooks.provisionDatabase('foil', this.localPeerId, this.remotePeerId, ctx.sessionId, ctx),
      'provision-failed'
    )
    if (!isProvisionResult(provision) || !this.tallyMatches(provision, 'foil')) {
      throw new RejectedError('provision-failed', 'provisionDatabase returned garbage')
    }
    this.tallyId = provision.tally.tallyId
    this.tallyExists = true
    await this.step((signal) =>
      frames.write(
        { type: 'DatabaseResult', tally: provision.tally, dbConnectionInfo: provision.dbConnectionInfo },
        { signal }
      )
    )
    this.verdictSent = true
    this.enter('D_AWAIT_ACK')
    const ack = await this.step((signal) => frames.read(['Ack'], { signal }))
    if (!ack.ok) throw new RejectedError(ack.reason)
    await this.settle(provision.tally.tallyId)
    await this.step((signal) => frames.closeWrite({ signal }))
    this.enter('D_DONE')
    return this.result(response, provision)
  }

  /**
   * A link whose token waits for A's operator says how long (approvalTimeoutMs): the response read and
   * the session deadline are extended by it (plus a step, A's margin), so B outlasts A's approval wait.
   */
  private responseWait(): number | undefined {
    const approvalMs = this.init.link.approvalTimeoutMs
    if (typeof approvalMs !== 'number' || !Number.isFinite(approvalMs) || approvalMs <= 0) return undefined
    const { stepTimeoutMs } = this.deps.config
    this.deps.extendDeadline?.(approvalMs + stepTimeoutMs)
    return approvalMs + 2 * stepTimeoutMs
  }

  /** Tries every responder address in order; the first that opens a protocol stream wins. */
  private async dial(): Promise<Stream> {
    const errors: unknown[] = []
    for (const addr of this.init.link.responderPeerAddrs) {
      const scope = scopedSignal(
        this.deps.signal,
        this.deps.config.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
        'dialling ran out of time'
      )
      try {
        return await this.init.node.dialProtocol(multiaddr(addr), PROTOCOL_ID, {
          signal: scope.signal,
          maxOutboundStreams: MAX_OUTBOUND_STREAMS
        })
      } catch (err) {
        if (this.deps.signal.aborted) throw abortError(this.deps.signal, () => new SessionStoppedError())
        errors.push(err)
      } finally {
        scope.clear()
      }
    }
    throw new DialFailedError(undefined, { cause: new AggregateError(errors) })
  }

  /** Stock responses must carry A's database (naming us and A); foil responses must not. */
  private checkProvision(response: ApprovedProvisioningResult): void {
    if (response.role === 'foil') {
      if (response.provisionResult != null) throw new BadMessageError('foil response with a database')
      return
    }
    if (response.provisionResult == null) throw new BadMessageError('stock response without a database')
    if (!this.tallyMatches(response.provisionResult, 'stock')) throw new RejectedError('party-mismatch')
  }

  private tallyMatches(result: ProvisionResult, role: PartyRole): boolean {
    const { tally } = result
    return (
      tally.createdBy === role &&
      tally.initiatorPeerId === this.localPeerId &&
      tally.respondentPeerId === this.remotePeerId
    )
  }

  private async settle(tallyId: string): Promise<void> {
    const { hooks } = this.deps
    if (hooks.settleTally != null) await this.hook((ctx) => hooks.settleTally!(tallyId, 'confirmed', ctx))
    this.settled = true
  }

  private result(response: ApprovedProvisioningResult, provision: ProvisionResult): BootstrapResult {
    return {
      sessionId: this.sessionId,
      role: response.role,
      tally: provision.tally,
      dbConnectionInfo: provision.dbConnectionInfo,
      remotePeerId: this.remotePeerId,
      remoteCadrePeerAddrs: response.cadrePeerAddrs
    }
  }

  private async fail(err: unknown): Promise<Error> {
    const error = toBootstrapError(err)
    const frames = this.frames
    if (frames != null) {
      if (mustAbort(error) || !this.contactSent) frames.abort(error)
      else if (this.verdictSent) await frames.closeWrite({ signal: this.cleanupSignal() })
      else await this.tell(frames, error.reason)
    }
    const { hooks } = this.deps
    if (this.tallyExists && !this.settled && hooks.settleTally != null && this.tallyId != null) {
      const tallyId = this.tallyId
      await this.cleanupHook((ctx) => hooks.settleTally!(tallyId, 'abandoned', ctx))
    }
    this.enter(error.name === 'TimeoutError' ? 'D_TIMEOUT' : 'D_FAILED', error.reason)
    return error
  }

  /** Tells A why we refuse its response (Ack{ok:false}), then ends our side. */
  private async tell(frames: FrameStream, reason: ReasonCode): Promise<void> {
    const signal = this.cleanupSignal()
    try {
      await frames.write({ type: 'Ack', ok: false, reason }, { signal })
      await frames.closeWrite({ signal })
    } catch (err) {
      frames.abort(err as Error)
    }
  }
}
