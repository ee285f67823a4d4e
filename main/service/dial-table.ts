/** The dials this node starts as a customer, and their outcomes for waitDial. */
import { randomUUID } from 'node:crypto'
import type { Libp2p } from '@libp2p/interface'
import type { DialInput, DialOutcome } from '../views/console-views.ts'
import { ApiError } from './api-error.ts'
import { linkPeerId, parseLink } from '../bootstrap/index.ts'
import type { SessionManager } from '../bootstrap/index.ts'
import type { BootstrapLink } from '../bootstrap/types.ts'
import { describeFailure } from '../bootstrap/reason-words.ts'

/** Finished dials whose outcome waitDial can still return. */
const MAX_KEPT_DIALS = 1000

/** What a dial runs on: the running node and manager, the service's shutdown, where its outcome goes. */
export interface DialContext {
  node: Libp2p
  manager: SessionManager
  signal: AbortSignal
  push: (outcome: DialOutcome) => void
}

/** Start a bootstrap to `input.link`; its outcome never rejects (a failure is an outcome too). */
export function startDial(
  input: DialInput,
  { node, manager, signal, push }: DialContext
): { sessionId: string; outcome: Promise<DialOutcome> } {
  let link: BootstrapLink
  try {
    link = parseLink(input.link)
  } catch (err) {
    // InvalidLinkError messages are written for users and never quote the token.
    const message =
      err instanceof Error && err.name === 'InvalidLinkError' ? err.message : 'this is not a Taleus link'
    throw new ApiError('invalid-link', 400, message, { cause: err })
  }
  // a code this node shows its customers: dialling it would only fail at the network layer, in words that
  // blame the other node
  if (linkPeerId(link) === node.peerId.toString())
    throw new ApiError('own-link', 400, 'this is one of your own links: your customers dial it')
  const sessionId = randomUUID()
  const outcome = manager
    .initiateBootstrap(link, node, {
      sessionId,
      signal,
      ...(input.identity === undefined ? {} : { identityBundle: input.identity })
    })
    .then(
      (result): DialOutcome => ({
        sessionId,
        ok: true,
        tallyId: result.tally.tallyId,
        role: result.role,
        remotePeerId: result.remotePeerId
      }),
      (err: unknown): DialOutcome => ({ sessionId, ok: false, ...describeFailure(err) })
    )
    .then((result) => {
      push(result)
      return result
    })
  return { sessionId, outcome }
}

/** Outcomes by session id; past MAX_KEPT_DIALS the finished sessions' are dropped. */
export class DialTable {
  readonly #dials = new Map<string, Promise<DialOutcome>>()
  readonly #done: (sessionId: string) => boolean

  /** `done`: whether a session's row is finished (or gone), so its outcome may be dropped. */
  constructor(done: (sessionId: string) => boolean) {
    this.#done = done
  }

  /** Keep a started dial's outcome. */
  add(sessionId: string, outcome: Promise<DialOutcome>): void {
    this.#dials.set(sessionId, outcome)
    void outcome.then(() => this.#prune())
  }

  /** The outcome of a dial (once it ends). */
  async wait(sessionId: string): Promise<DialOutcome> {
    const outcome = this.#dials.get(sessionId)
    if (outcome === undefined) throw new ApiError('not-found', 404, 'no dial with that session id')
    return outcome
  }

  /** Every kept outcome (to let them settle on stop). */
  outcomes(): Iterable<Promise<DialOutcome>> {
    return this.#dials.values()
  }

  #prune(): void {
    if (this.#dials.size <= MAX_KEPT_DIALS) return
    for (const id of this.#dials.keys()) {
      if (this.#dials.size <= MAX_KEPT_DIALS) break
      if (this.#done(id)) this.#dials.delete(id)
    }
  }
}
