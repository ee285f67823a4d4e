/**
 * VerdictRecovery: settles this node's `pending` tallies by asking their counterparty (VerdictService) —
 * at start, whenever a connection to that counterparty opens, and with capped exponential backoff while it
 * cannot be reached or does not know yet. A counterparty that never answers leaves the tally pending for
 * good: a pending tally is never guessed.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { TallyView } from '../views/console-views.ts'
import type { VerdictAnswer, VerdictService } from '../bootstrap/verdict-service.ts'
import type { MerchantStore } from '../store/types.ts'

/** Defaults of VerdictRecoveryInit's retry timing, filled once. */
export const DEFAULT_VERDICT_RETRY = {
  /** First retry after a failed or unsettled try. */
  initialMs: 1_000,
  /** Longest wait between two tries. */
  maxMs: 300_000
} as const

/**
 * Queries in flight to one counterparty at once: an answerer accepts a few verdict streams per connection
 * (DEFAULT_VERDICT_CONFIG.maxInboundStreams) and resets the rest, so a node with many pending tallies asks
 * a few at a time.
 */
export const MAX_ASKS_PER_PEER = 4

/** Options of a VerdictRecovery. */
export interface VerdictRecoveryInit {
  store: Pick<MerchantStore, 'pendingTallies' | 'applyVerdict'>
  node: Libp2p
  verdicts: Pick<VerdictService, 'ask'>
  initialMs?: number
  maxMs?: number
  /** Told after each try of a tally (its next try, if any, is planned by then). */
  onCheck?: (tallyId: string, answer: VerdictAnswer | 'unreachable') => void
}

interface Pending {
  view: TallyView
  attempt: number
  nextAt?: number
  timer?: ReturnType<typeof setTimeout>
  running?: Promise<void>
}

/** Asks counterparties for the verdicts of this node's pending tallies until each is settled. */
export class VerdictRecovery {
  private readonly init: VerdictRecoveryInit
  private readonly initialMs: number
  private readonly maxMs: number
  private readonly pending = new Map<string, Pending>()
  private readonly controller = new AbortController()
  /** Per counterparty: queries in flight and those waiting for one of its MAX_ASKS_PER_PEER slots. */
  private readonly slots = new Map<string, { running: number; waiting: Array<() => void> }>()
  private stopped = false
  private readonly onConnect = (evt: Event): void => {
    this.checkPeer((evt as CustomEvent<PeerId>).detail.toString())
  }

  constructor(init: VerdictRecoveryInit) {
    this.init = init
    this.initialMs = Math.max(1, init.initialMs ?? DEFAULT_VERDICT_RETRY.initialMs)
    this.maxMs = Math.max(this.initialMs, init.maxMs ?? DEFAULT_VERDICT_RETRY.maxMs)
  }

  /** Asks about every pending tally now and from then on on each new connection to its counterparty. */
  start(): void {
    this.init.node.addEventListener('peer:connect', this.onConnect)
    for (const view of this.init.store.pendingTallies()) this.track(view, 0)
  }

  /** Stops asking; tries in flight are aborted and awaited. */
  async stop(): Promise<void> {
    this.stopped = true
    this.init.node.removeEventListener('peer:connect', this.onConnect)
    this.controller.abort(new Error('verdict recovery stopped'))
    // waiting queries start, see the aborted signal and end at once
    for (const slot of this.slots.values()) for (const go of slot.waiting.splice(0)) go()
    const running: Array<Promise<void>> = []
    for (const p of this.pending.values()) {
      clearTimeout(p.timer)
      if (p.running !== undefined) running.push(p.running)
    }
    await Promise.allSettled(running)
  }

  /**
   * A tally changed (the store's `tally` event): a new pending one is asked about after `delayMs` (the
   * other party's session may still be ending), a settled one is forgotten.
   */
  track(view: TallyView, delayMs = this.initialMs): void {
    if (this.stopped) return
    if (view.status !== 'pending') {
      const known = this.pending.get(view.tallyId)
      if (known !== undefined) clearTimeout(known.timer)
      this.pending.delete(view.tallyId)
      return
    }
    if (this.pending.has(view.tallyId)) return
    const entry: Pending = { view, attempt: 0 }
    this.pending.set(view.tallyId, entry)
    this.schedule(entry, delayMs)
  }

  /** When the next try of a pending tally is planned (epoch ms), if one is. */
  nextCheckAt(tallyId: string): number | undefined {
    return this.pending.get(tallyId)?.nextAt
  }

  /** Pending tallies this node is asking about. */
  get size(): number {
    return this.pending.size
  }

  /** Asks at once about every pending tally whose counterparty is `peerId` (a connection to it just opened). */
  checkPeer(peerId: string): void {
    for (const entry of this.pending.values()) {
      if (entry.view.counterpartyPeerId === peerId && entry.running === undefined) this.schedule(entry, 0)
    }
  }

  /** Asks at once about every pending tally; resolves when each has had one try. */
  async checkAll(): Promise<void> {
    const tries: Array<Promise<void>> = []
    for (const entry of this.pending.values()) {
      if (entry.running === undefined) {
        clearTimeout(entry.timer)
        entry.running = this.check(entry)
      }
      tries.push(entry.running)
    }
    await Promise.allSettled(tries)
  }

  /** Runs `fn` once fewer than MAX_ASKS_PER_PEER queries to `peer` are in flight. */
  private async withSlot<T>(peer: string, fn: () => Promise<T>): Promise<T> {
    let slot = this.slots.get(peer)
    if (slot === undefined) {
      slot = { running: 0, waiting: [] }
      this.slots.set(peer, slot)
    }
    if (slot.running >= MAX_ASKS_PER_PEER && !this.stopped)
      await new Promise<void>((resolve) => slot.waiting.push(resolve))
    slot.running++
    try {
      return await fn()
    } finally {
      slot.running--
      const next = slot.waiting.shift()
      if (next !== undefined) next()
      else if (slot.running === 0) this.slots.delete(peer)
    }
  }

  private schedule(entry: Pending, delayMs: number): void {
    clearTimeout(entry.timer)
    entry.nextAt = Date.now() + delayMs
    entry.timer = setTimeout(() => {
      if (entry.running === undefined) entry.running = this.check(entry)
    }, delayMs)
    entry.timer.unref?.()
  }

  private async check(entry: Pending): Promise<void> {
    const { view } = entry
    let answer: VerdictAnswer | 'unreachable'
    try {
      answer = await this.withSlot(view.counterpartyPeerId, async () =>
        this.init.verdicts.ask(
          this.init.node,
          { peerId: view.counterpartyPeerId, addrs: view.counterpartyCadre ?? [] },
          view.tallyId,
          { signal: this.controller.signal }
        )
      )
    } catch {
      answer = 'unreachable'
    }
    try {
      if (this.stopped) return
      if (answer === 'confirmed' || answer === 'abandoned' || answer === 'refused') {
        // a refusal from the counterparty itself: it holds no such tally with us, so it never confirmed
        // it (a listener's tally is durable before the dialer can hear of it)
        const verdict = answer === 'refused' ? 'abandoned' : answer
        await this.init.store.applyVerdict(view.tallyId, verdict, view.counterpartyPeerId)
        this.pending.delete(view.tallyId)
      } else {
        entry.attempt++
        this.schedule(entry, Math.min(this.maxMs, this.initialMs * 2 ** Math.min(entry.attempt - 1, 30)))
      }
    } catch {
      // the store could not record it: try again later
      entry.attempt++
      if (!this.stopped)
        this.schedule(entry, Math.min(this.maxMs, this.initialMs * 2 ** Math.min(entry.attempt - 1, 30)))
    } finally {
      entry.running = undefined
      this.init.onCheck?.(view.tallyId, answer)
    }
  }
}
