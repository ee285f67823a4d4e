/**
 * Customer displays: a `per-customer` token is one of a series sharing a `displayId`. When a customer's
 * tally opens through the current token, the node mints its successor (same settings) by itself, so a
 * counter screen shows the next QR with no operator touch; meanwhile the display follows the sale
 * (connecting, waiting for approval, "Welcome, Ann — your tally is open", or what went wrong).
 */
import type {
  ApprovalView,
  CreateTokenInput,
  IdentityBundle,
  ReasonCode,
  DisplayPhase,
  DisplayView,
  SessionEvent,
  TokenView
} from '../views/console-views.ts'
import { ApiError } from './api-error.ts'
import { DisplayIndex } from './display-index.ts'
import type { MerchantStore } from '../store/types.ts'
import { REASON_MESSAGES } from '../bootstrap/reason-words.ts'
import { counterpartyName } from '../store/tally-book.ts'

/** What the displays need from the service. */
export interface DisplaysInit {
  store: () => MerchantStore
  /** The link of a token (its QR). */
  linkFor: (view: TokenView, token: string) => string
  /** Tell subscribers. */
  push: (view: DisplayView) => void
  now?: () => number
}

interface Progress {
  phase: DisplayPhase
  customer?: DisplayView['customer']
  updatedAt: number
}

/** Most displays whose progress is kept in memory. */
const MAX_DISPLAYS = 1000

/** The name to greet a customer by: its identity `name`, else `email`. */
function counterpartyNameOf(
  t: { counterpartyName?: string; counterpartyIdentity?: IdentityBundle } | undefined
): string | undefined {
  return t?.counterpartyName ?? counterpartyName(t?.counterpartyIdentity)
}

/** The customer displays of one node. */
export class Displays {
  readonly #init: DisplaysInit
  readonly #now: () => number
  readonly #progress = new Map<string, Progress>()
  /** Displays whose next token is being minted (one at a time each). */
  readonly #minting = new Map<string, Promise<void>>()
  readonly #index = new DisplayIndex()

  constructor(init: DisplaysInit) {
    this.#init = init
    this.#now = init.now ?? Date.now
  }

  /** A token was created or changed (the store's token events). */
  onToken(view: TokenView): void {
    this.#index.update(this.#init.store(), view)
  }

  /** The display's newest token and how many customers it served; undefined when no token belongs to it. */
  #look(displayId: string): { current: TokenView; served: number } | undefined {
    const store = this.#init.store()
    let entry = this.#index.entry(store, displayId)
    let current = entry === undefined ? undefined : store.getToken(entry.currentId)
    if (entry !== undefined && current === undefined) {
      // the index lost track (a token gone from the store): one scan puts it right
      this.#index.rebuild(store)
      entry = this.#index.entry(store, displayId)
      current = entry === undefined ? undefined : store.getToken(entry.currentId)
    }
    return entry === undefined || current === undefined ? undefined : { current, served: entry.served.size }
  }

  /** The display as it is now; not-found when no token belongs to it. */
  get(displayId: string): DisplayView {
    const look = this.#look(displayId)
    if (look === undefined) throw new ApiError('not-found', 404, 'no customer display with that id')
    const { current } = look
    const store = this.#init.store()
    const progress = this.#progress.get(displayId)
    const view: DisplayView = {
      displayId,
      label: current.label,
      role: current.role,
      tokenId: current.tokenId,
      link: this.#init.linkFor(current, store.tokenSecret(current.tokenId)),
      served: look.served,
      phase: progress?.phase ?? 'ready',
      updatedAt: progress?.updatedAt ?? current.createdAt,
      closed: current.revoked
    }
    if (progress?.customer !== undefined) view.customer = { ...progress.customer }
    return view
  }

  /** Revoke the current token: the display ends. */
  async close(displayId: string, revoke: (tokenId: string) => Promise<unknown>): Promise<DisplayView> {
    // a successor being minted right now is the one to revoke
    await this.#minting.get(displayId)
    const current = this.#look(displayId)?.current
    if (current === undefined) throw new ApiError('not-found', 404, 'no customer display with that id')
    if (!current.revoked) await revoke(current.tokenId)
    const view = this.get(displayId)
    this.#init.push(view)
    return view
  }

  /** Follow a session of a display's token. */
  onSession(event: SessionEvent, onNext: (created: TokenView) => void): void {
    if (event.direction !== 'inbound' || event.tokenId === undefined) return
    const token = this.#init.store().getToken(event.tokenId)
    const displayId = token?.displayId
    if (token === undefined || displayId === undefined) return
    const previous = this.#progress.get(displayId)
    const sameCustomer = previous?.customer?.sessionId === event.sessionId
    const name = sameCustomer ? previous?.customer?.name : undefined
    let phase: DisplayPhase
    let text: string
    let tallyId: string | undefined
    if (event.state === 'L_DONE') {
      tallyId = event.tallyId
      const tally = tallyId === undefined ? undefined : this.#init.store().getTally?.(tallyId)
      const who = counterpartyNameOf(tally) ?? name
      phase = 'open'
      text = who === undefined ? 'Welcome — your tally is open' : `Welcome, ${who} — your tally is open`
      this.#set(displayId, phase, { sessionId: event.sessionId, text, name: who, tallyId })
      if (!this.#minting.has(displayId)) {
        const minting = this.#next(displayId, token, onNext).finally(() => this.#minting.delete(displayId))
        this.#minting.set(displayId, minting)
      }
      return
    }
    if (event.state === 'L_FAILED' || event.state === 'L_TIMEOUT') {
      // a refused stranger (bad token, busy) is not this display's customer
      if (!sameCustomer && event.previousState === 'L_PROCESS_CONTACT') return
      phase = 'failed'
      const why = event.reason === undefined ? undefined : REASON_MESSAGES[event.reason]
      text = why === undefined ? 'That did not work; please scan again' : `That did not work: ${why}`
      this.#set(displayId, phase, { sessionId: event.sessionId, text, name, reason: event.reason })
      return
    }
    if (sameCustomer && previous?.phase === 'waiting-approval') return
    this.#set(displayId, 'connecting', { sessionId: event.sessionId, text: 'Connecting…', name })
  }

  /** A display's customer waits for the operator. */
  onApproval(approval: ApprovalView): void {
    const displayId = this.#init.store().getToken(approval.tokenId)?.displayId
    if (displayId === undefined) return
    const name = counterpartyNameOf({ counterpartyIdentity: approval.bundle })
    this.#set(displayId, 'waiting-approval', {
      sessionId: approval.sessionId,
      name,
      text:
        name === undefined
          ? 'One moment — the cashier is checking'
          : `One moment, ${name} — the cashier is checking`
    })
  }

  #set(
    displayId: string,
    phase: DisplayPhase,
    customer: {
      sessionId: string
      text: string
      name?: string | undefined
      tallyId?: string | undefined
      reason?: ReasonCode | undefined
    }
  ): void {
    const c: NonNullable<DisplayView['customer']> = { sessionId: customer.sessionId, text: customer.text }
    if (customer.name !== undefined) c.name = customer.name
    if (customer.tallyId !== undefined) c.tallyId = customer.tallyId
    if (customer.reason !== undefined) c.reason = customer.reason
    this.#progress.delete(displayId)
    this.#progress.set(displayId, { phase, customer: c, updatedAt: this.#now() })
    if (this.#progress.size > MAX_DISPLAYS) {
      const oldest = this.#progress.keys().next().value
      if (oldest !== undefined) this.#progress.delete(oldest)
    }
    try {
      this.#init.push(this.get(displayId))
    } catch {
      // the display's tokens are gone: nothing to show
    }
  }

  /** Mint the successor of a used-up display token (same settings) and archive the used one. */
  async #next(displayId: string, used: TokenView, onNext: (created: TokenView) => void): Promise<void> {
    if (this.#look(displayId)?.current.tokenId !== used.tokenId) return
    const fresh = this.#init.store().getToken(used.tokenId)
    if (fresh === undefined || fresh.revoked || fresh.status !== 'used-up') return
    try {
      const input: CreateTokenInput & { displayId: string } = {
        role: fresh.role,
        label: fresh.label,
        identityRequirements: fresh.identityRequirements,
        approval: fresh.approval,
        approvalTimeoutMs: fresh.approvalTimeoutMs,
        mode: 'per-customer',
        displayId
      }
      // each customer's tally starts from the display's standing terms, not only the first one's
      if (fresh.terms !== undefined) input.terms = { ...fresh.terms }
      if (fresh.expiresAt !== null) input.expiresInMs = Math.max(1000, fresh.expiresAt - fresh.createdAt)
      // the used QR leaves the token list first, so the list never shows two current ones
      await this.#init
        .store()
        .archiveToken?.(fresh.tokenId)
        .catch(() => {})
      const { view } = await this.#init.store().createToken(input)
      this.onToken(view)
      onNext(view)
      this.#init.push(this.get(displayId))
    } catch {
      // the disk is full or the node stops: the display keeps its used QR and says so on the next look
    }
  }
}
