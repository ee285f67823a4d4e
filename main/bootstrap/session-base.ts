/**
 * What both session kinds share: the state table walk with one SessionEvent per transition, step
 * deadlines on the session's signal, hook calls raced against it, and error classification.
 */
import { abortError, raceSignal, timeoutSignal } from './abort.ts'
import type { ScopedSignal } from './abort.ts'
import { BootstrapError, HookFailedError, RejectedError, StreamClosedError } from './errors.ts'
import { isTerminalState, transition } from './states.ts'
import type {
  Counterparty,
  Direction,
  HookContext,
  ValidatedToken,
  PartyRole,
  ReasonCode,
  SessionEvent,
  SessionHooks,
  SessionManagerConfig,
  SessionState
} from './types.ts'

/** What a session needs from its manager. */
export interface SessionDeps {
  hooks: SessionHooks
  config: SessionManagerConfig
  /** Aborted at the session deadline, on manager stop, or by the caller. */
  signal: AbortSignal
  /** Delivers one transition (emit + audit log). Must not throw. */
  onEvent(event: SessionEvent): void
  /** Additive: pushes the session deadline `ms` later (an operator approval may outlast it). */
  extendDeadline?(ms: number): void
  /** Additive: aborts the session's signal with `reason` (the peer left, its token was revoked, …). */
  abort?(reason: Error): void
  /** Arms the current step's deadline: `signal` aborts with TimeoutError after `ms` unless the returned clear runs first. */
  armStep(ms: number): () => void
  /** Rejects with `signal`'s reason once it aborts: what a step races. */
  readonly aborted: Promise<never>
}

/** A session was cut because its SessionManager stopped. */
export class SessionStoppedError extends BootstrapError {
  override name = 'SessionStoppedError'
  constructor(message = 'the bootstrap service stopped', options?: ErrorOptions) {
    super('internal-error', message, options)
  }
}

/** The caller aborted `initiateBootstrap` through its `signal`; `cause` is the signal's reason. */
export class SessionAbortedError extends BootstrapError {
  override name = 'SessionAbortedError'
  constructor(message = 'the bootstrap was cancelled', options?: ErrorOptions) {
    super('internal-error', message, options)
  }
}

function stoppedError(): BootstrapError {
  return new SessionStoppedError()
}

/** Base of ListenerSession and DialerSession. */
export abstract class BaseSession<S extends SessionState> {
  state: S
  protected previous: S | null = null
  protected tokenId?: string
  protected tallyId?: string
  protected role?: PartyRole
  /** What the remote party disclosed, handed to hooks only (never to events). */
  protected counterparty?: Counterparty
  /** Listener: the token validateToken accepted, handed to the hooks that follow it. */
  protected validatedToken?: ValidatedToken
  /** The protocol id the bootstrap's stream negotiated, once it is open (the hooks see it). */
  protected protocol?: string

  constructor(
    readonly sessionId: string,
    readonly direction: Direction,
    protected readonly table: Record<S, readonly S[]>,
    initial: S,
    protected readonly remotePeerId: string,
    protected readonly deps: SessionDeps
  ) {
    this.state = initial
  }

  /** True once the session reached DONE, FAILED or TIMEOUT. */
  get done(): boolean {
    return isTerminalState(this.state)
  }

  /** Emits the first event (previousState null). */
  protected begin(): void {
    this.emit()
  }

  /** Moves to `to` (throws IllegalTransitionError when the table forbids it) and emits the event. */
  protected enter(to: S, reason?: ReasonCode, peerLeft = false): void {
    const from = this.state
    transition(this.table, from, to)
    this.previous = from
    this.state = to
    this.emit(reason, peerLeft)
  }

  private emit(reason?: ReasonCode, peerLeft = false): void {
    const event: SessionEvent = {
      sessionId: this.sessionId,
      direction: this.direction,
      state: this.state,
      previousState: this.previous,
      at: Date.now(),
      peerId: this.remotePeerId
    }
    if (this.tokenId != null) event.tokenId = this.tokenId
    if (this.tallyId != null) event.tallyId = this.tallyId
    if (this.role != null) event.role = this.role
    if (reason != null) event.reason = reason
    if (peerLeft) event.peerLeft = true
    this.deps.onEvent(event)
  }

  /**
   * A deadline for cleanup after a failure, not tied to the (maybe aborted) session signal: a timer that
   * clear() stops once the cleanup is done (an AbortSignal.timeout would fire later for every failure).
   */
  protected cleanupScope(): ScopedSignal {
    return timeoutSignal(this.deps.config.stepTimeoutMs, 'the cleanup ran out of time')
  }

  protected hookContext(signal: AbortSignal): HookContext {
    const ctx: HookContext = {
      sessionId: this.sessionId,
      direction: this.direction,
      remotePeerId: this.remotePeerId,
      signal
    }
    if (this.counterparty != null) ctx.counterparty = this.counterparty
    if (this.validatedToken != null) ctx.token = this.validatedToken
    if (this.protocol !== undefined) ctx.protocol = this.protocol
    return ctx
  }

  /**
   * Arms a step's deadline (default stepTimeoutMs) on the session's own signal: a step that runs out of
   * time ends the session, so it needs no signal of its own. Call the result when the step is over.
   */
  private armStep(timeoutMs: number = this.deps.config.stepTimeoutMs): () => void {
    return this.deps.armStep(timeoutMs)
  }

  /**
   * Runs one frame read or write under a step deadline; an abort becomes TimeoutError / the stop error.
   * No race: every step is a FrameStream call, and those honour their signal (lpStream's read, a write's
   * wait for drain and close's wait for idle all race it in @libp2p/utils), so a race here only cost a
   * promise pair and its closures per step on each side — hooks, which may ignore it, are raced (hook()).
   */
  protected async step<T>(fn: (signal: AbortSignal) => Promise<T>, timeoutMs?: number): Promise<T> {
    const clear = this.armStep(timeoutMs)
    const { signal } = this.deps
    try {
      return await fn(signal)
    } catch (err) {
      if (signal.aborted) throw abortError(signal, stoppedError)
      throw err
    } finally {
      clear()
    }
  }

  /**
   * Calls a hook under a step deadline. RejectedError passes through with its reason; any other
   * throw becomes `failReason`; a hook that ignores its signal is abandoned when the signal fires.
   */
  protected async hook<T>(
    fn: (ctx: HookContext) => Promise<T>,
    failReason: 'internal-error' | 'provision-failed' = 'internal-error',
    timeoutMs?: number
  ): Promise<T> {
    const clear = this.armStep(timeoutMs)
    const { signal } = this.deps
    try {
      return await Promise.race([
        Promise.resolve().then(() => fn(this.hookContext(signal))),
        this.deps.aborted
      ])
    } catch (err) {
      if (signal.aborted) throw abortError(signal, stoppedError)
      if (err instanceof RejectedError) throw err
      throw new HookFailedError(failReason, 'a hook failed', { cause: err })
    } finally {
      clear()
    }
  }

  /** Runs a cleanup hook (release, abandon) without ever letting it fail or hang the session. */
  protected async cleanupHook(fn: (ctx: HookContext) => Promise<unknown>): Promise<void> {
    const scope = this.cleanupScope()
    const { signal } = scope
    try {
      await raceSignal(
        Promise.resolve().then(() => fn(this.hookContext(signal))),
        signal,
        () => new Error('cleanup timed out')
      )
    } catch {
      // best effort: the session already failed and reports that
    } finally {
      scope.clear()
    }
  }
}

/** Any thrown value as a BootstrapError; unknown errors (stream resets etc.) become StreamClosedError. */
export function toBootstrapError(err: unknown): BootstrapError {
  if (err instanceof BootstrapError) return err
  return new StreamClosedError(undefined, { cause: err })
}

/** True when a failure must reset the stream rather than be told to the peer in a message. */
export function mustAbort(err: BootstrapError): boolean {
  return err.name === 'TimeoutError' || err.name === 'StreamClosedError' || err.name === 'SessionStoppedError'
}
