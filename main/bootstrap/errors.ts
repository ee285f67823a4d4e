import type { ReasonCode } from './types.ts'

/** Base of every bootstrap failure: carries the reason code sent on (or received from) the wire. */
export class BootstrapError extends Error {
  override name = 'BootstrapError'
  constructor(
    readonly reason: ReasonCode,
    message?: string,
    options?: ErrorOptions
  ) {
    super(message ?? reason, options)
  }
}

/** A party (or a hook) refused the bootstrap for `reason`. Hooks throw this to choose the reason. */
export class RejectedError extends BootstrapError {
  override name = 'RejectedError'
  /**
   * Additive: the public id of a token `validateToken` recognised and refused (revoked, expired, used up),
   * so the session's events name it; never sent on the wire.
   */
  readonly tokenId?: string

  constructor(reason: ReasonCode, message?: string, options?: ErrorOptions & { tokenId?: string }) {
    super(reason, message, options)
    if (options?.tokenId !== undefined) this.tokenId = options.tokenId
  }
}

/**
 * A RejectedError without a stack trace, for the verdicts a stranger can make A give by the thousand
 * (an unknown token, `busy`): capturing a stack, async frames included, was the costliest part of
 * building one (docs/performance.md). A hook that throws RejectedError itself still gets its stack.
 */
export function refusal(reason: ReasonCode): RejectedError {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new RejectedError(reason)
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** One of our own hooks threw something other than a RejectedError (what it threw is the `cause`). */
export class HookFailedError extends BootstrapError {
  override name = 'HookFailedError'
}

/** A step or the whole session ran out of time. */
export class TimeoutError extends BootstrapError {
  override name = 'TimeoutError'
  constructor(message = 'timed out', options?: ErrorOptions) {
    super('timeout', message, options)
  }
}

/** A frame failed to parse or validate, or came in the wrong state. */
export class BadMessageError extends BootstrapError {
  override name = 'BadMessageError'
  constructor(message = 'bad message', options?: ErrorOptions) {
    super('bad-message', message, options)
  }
}

/** The stream ended or was reset before the protocol finished. */
export class StreamClosedError extends BootstrapError {
  override name = 'StreamClosedError'
  constructor(message = 'the other party closed the connection', options?: ErrorOptions) {
    super('internal-error', message, options)
  }
}

/** No responder address could be dialled (reason `unreachable`, local only: never on the wire). */
export class DialFailedError extends BootstrapError {
  override name = 'DialFailedError'
  constructor(message = 'could not reach the other party', options?: ErrorOptions) {
    super('unreachable', message, options)
  }
}

/** A session tried a transition its table does not allow: a bug. */
export class IllegalTransitionError extends Error {
  override name = 'IllegalTransitionError'
}

/** A link string could not be parsed. */
export class InvalidLinkError extends Error {
  override name = 'InvalidLinkError'
}

/** handleNewStream got something it cannot serve: no stream, no connection, or no local peer id yet. */
export class InvalidStreamError extends Error {
  override name = 'InvalidStreamError'
}

/** initiateBootstrap was given a libp2p node that is not running: nothing was dialled. */
export class NodeNotStartedError extends BootstrapError {
  override name = 'NodeNotStartedError'
  constructor(message = 'this node is not running: start it before dialling', options?: ErrorOptions) {
    super('internal-error', message, options)
  }
}
