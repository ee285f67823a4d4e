/**
 * DialerSession: party B's side of one bootstrap, from dialling a responder address to the verdict.
 * In stock B succeeds only after A's clean close following B's Ack, so B never reports a tally that A
 * did not confirm. See DIALER_TRANSITIONS and docs/protocol.md.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p, Stream } from '@libp2p/interface'
import { abortError, scopedSignal } from './abort.ts'
import { DEFAULT_SESSION_CONFIG } from './session-manager-config.ts'
import { dialFailed } from './dial-failure.ts'
import { BadMessageError, RejectedError, StreamClosedError } from './errors.ts'
import { FrameStream } from './frames.ts'
import { isProvisionResult } from './messages.ts'
import type { ApprovedProvisioningResult, ProvisioningResult } from './messages.ts'
import { BaseSession, SessionStoppedError, mustAbort, toBootstrapError } from './session-base.ts'
import type { SessionDeps } from './session-base.ts'
import { DIALER_INITIAL_STATE, DIALER_TRANSITIONS } from './states.ts'
import { PROTOCOL_ID, PROTOCOL_IDS } from './types.ts'
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
export const DEFAULT_DIAL_TIMEOUT_MS: number = DEFAULT_SESSION_CONFIG.dialTimeoutMs

/** Init of one DialerSession. */
export interface DialerSessionInit {
  sessionId: string
  link: BootstrapLink
  /** Additive: link.responderPeerAddrs already parsed, in order (SessionManager parses them once); else parsed here. */
  addrs?: Multiaddr[]
  node: Pick<Libp2p, 'dialProtocol' | 'peerId'> & Partial<Pick<Libp2p, 'getConnections'>>
  /** The responder's peer id, from the link. */
  remotePeerId: string
  identityBundle: IdentityBundle
  /** B's cadre, disclosed first, in the contact. */
  cadrePeerAddrs: string[]
}

/** The peer does not speak the protocol we proposed (multistream's `na`), seen directly or under our framing. */
function notSpoken(err: unknown): boolean {
  const name = (e: unknown): unknown => (e as Error | null)?.name
  return (
    name(err) === 'UnsupportedProtocolError' ||
    name((err as Error | null)?.cause) === 'UnsupportedProtocolError'
  )
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
  /**
   * Our Ack{ok:true} (stock) or DatabaseResult (foil) may have reached A, so A may confirm: from here until
   * we hear A's verdict a failure leaves the tally `pending`, never `abandoned`.
   */
  private committed = false

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
    let frames = await this.open(this.connected())
    let response: ProvisioningResult
    try {
      response = await this.contact(frames, responseWaitMs)
    } catch (err) {
      if (!notSpoken(err)) throw err
      // A does not speak our newest version (its echo said so): negotiate in full, on a new stream
      frames = await this.open(false)
      response = await this.contact(frames, responseWaitMs)
    }
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
      this.commit(frames)
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
    this.commit(frames)
    await this.step((signal) =>
      frames.write(
        { type: 'DatabaseResult', tally: provision.tally, dbConnectionInfo: provision.dbConnectionInfo },
        { signal }
      )
    )
    this.verdictSent = true
    this.enter('D_AWAIT_ACK')
    const ack = await this.step((signal) => frames.read(['Ack'], { signal }))
    // A's word: it did not confirm, so the tally is abandoned on both sides
    if (!ack.ok) {
      this.committed = false
      throw new RejectedError(ack.reason)
    }
    await this.settle(provision.tally.tallyId)
    await this.step((signal) => frames.closeWrite({ signal }))
    this.enter('D_DONE')
    return this.result(response, provision)
  }

  /**
   * Whether a connection to A is open already. Only then does our contact go with the protocol proposal:
   * on a fresh connection the proposal's round trip is what tells us A has caught up with our handshake,
   * so a rush that outruns A queues in our dial (its own deadline), not in A's session steps (measured:
   * 1000 fresh customers at once lost a third of their sessions to A's step deadlines without it).
   */
  private connected(): boolean {
    const { node } = this.init
    return (
      node.getConnections !== undefined && node.getConnections(peerIdFromString(this.remotePeerId)).length > 0
    )
  }

  /** Opens the bootstrap stream to A; `optimistic`: proposes our newest version with the contact itself. */
  private async open(optimistic: boolean): Promise<FrameStream> {
    const frames = new FrameStream(await this.dial(optimistic))
    this.frames = frames
    this.protocol = frames.stream.protocol
    return frames
  }

  /** Sends our contact and reads A's ProvisioningResult. */
  private async contact(
    frames: FrameStream,
    responseWaitMs: number | undefined
  ): Promise<ProvisioningResult> {
    const { link } = this.init
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
    if (this.state !== 'D_AWAIT_RESPONSE') this.enter('D_AWAIT_RESPONSE')
    return await this.step((signal) => frames.read(['ProvisioningResult'], { signal }), responseWaitMs)
  }

  /**
   * From here our last word may reach A. A stream already gone (A left, or reset it) carries nothing more,
   * so A cannot confirm: fail now, while the tally can still be abandoned for sure.
   */
  private commit(frames: FrameStream): void {
    const { stream } = frames
    if (stream.status !== 'open' || stream.writeStatus !== 'writable')
      throw new StreamClosedError('the other party left before our last word')
    this.committed = true
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

  /**
   * Tries every responder address in order; the first that opens a protocol stream wins. `optimistic`
   * proposes only our newest version and sends the contact with the proposal, saving a round trip
   * (`negotiateFully: false`, main/node/optimistic-select.ts); a libp2p that negotiates it in full
   * anyway and finds A without it falls back to the whole list at once.
   */
  private async dial(optimistic: boolean): Promise<Stream> {
    const failures: Array<{ addr: string; error: unknown }> = []
    const { link, addrs } = this.init
    for (const [i, addr] of link.responderPeerAddrs.entries()) {
      const scope = scopedSignal(
        this.deps.signal,
        this.deps.config.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
        'dialling ran out of time'
      )
      const options = { signal: scope.signal, maxOutboundStreams: MAX_OUTBOUND_STREAMS }
      try {
        const target = addrs?.[i] ?? multiaddr(addr)
        if (optimistic) {
          try {
            return await this.init.node.dialProtocol(target, PROTOCOL_ID, {
              ...options,
              negotiateFully: false
            })
          } catch (err) {
            if (!notSpoken(err)) throw err
          }
        }
        return await this.init.node.dialProtocol(target, [...PROTOCOL_IDS], options)
      } catch (err) {
        if (this.deps.signal.aborted) throw abortError(this.deps.signal, () => new SessionStoppedError())
        failures.push({ addr, error: err })
      } finally {
        scope.clear()
      }
    }
    throw dialFailed(failures)
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
      else if (this.verdictSent) await this.closeWrite(frames)
      else await this.tell(frames, error.reason)
    }
    const { hooks } = this.deps
    if (this.tallyExists && !this.settled && hooks.settleTally != null && this.tallyId != null) {
      const tallyId = this.tallyId
      // committed and no verdict heard: A may hold it confirmed; only A's answer settles it
      const outcome = this.committed ? 'pending' : 'abandoned'
      await this.cleanupHook((ctx) => hooks.settleTally!(tallyId, outcome, ctx))
    }
    this.enter(
      error.name === 'TimeoutError' ? 'D_TIMEOUT' : 'D_FAILED',
      error.reason,
      error.name === 'StreamClosedError'
    )
    return error
  }

  /** Tells A why we refuse its response (Ack{ok:false}), then ends our side. */
  private async tell(frames: FrameStream, reason: ReasonCode): Promise<void> {
    const scope = this.cleanupScope()
    const { signal } = scope
    try {
      await frames.write({ type: 'Ack', ok: false, reason }, { signal })
      await frames.closeWrite({ signal })
    } catch (err) {
      frames.abort(err as Error)
    } finally {
      scope.clear()
    }
  }

  /**
   * Ends our side after the verdict is on the wire (a refusal we heard, or our last word). A failure here
   * resets the stream: it must not replace the error the session ends with.
   */
  private async closeWrite(frames: FrameStream): Promise<void> {
    const scope = this.cleanupScope()
    try {
      await frames.closeWrite({ signal: scope.signal })
    } catch (err) {
      frames.abort(err as Error)
    } finally {
      scope.clear()
    }
  }
}
