/**
 * Batches console events for subscribers so a rush of sessions reaches IPC/SSE as a few messages:
 * at most one batch per interval, with repeated updates of one inbound session, token, tally or peer in a
 * batch folded into the latest (each is a full snapshot). Every step of an outbound dial is kept: the Dial
 * screen shows them as progress. O(1) work per event.
 */
import type { ConsoleEvent } from '../views/console-views.ts'

/** Options of EventBatcher. */
export interface EventBatcherInit {
  /** Longest an event waits before delivery. Default 50. */
  intervalMs?: number
}

/** Fan-out of batched ConsoleEvents to subscribers. */
export class EventBatcher {
  private readonly intervalMs: number
  private readonly subscribers = new Set<(events: ConsoleEvent[]) => void>()
  private batch: ConsoleEvent[] = []
  /** Index in `batch` of the latest snapshot of each inbound session, token and tally. */
  private sessionIndex = new Map<string, number>()
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(init: EventBatcherInit = {}) {
    this.intervalMs = init.intervalMs ?? 50
  }

  /** Queue one event; nothing is kept while no one listens. */
  push(event: ConsoleEvent): void {
    if (this.subscribers.size === 0) return
    // Inbound rushes are folded per session; outbound dials are few and the Dial screen shows each step.
    // a rush on one unlimited token would otherwise send one identical token row per session
    const key = foldKey(event)
    if (key !== undefined) {
      const at = this.sessionIndex.get(key)
      if (at !== undefined) {
        this.batch[at] = event
        return
      }
      this.sessionIndex.set(key, this.batch.length)
    }
    this.batch.push(event)
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs)
      this.timer.unref?.()
    }
  }

  /** Deliver what is queued now. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (this.batch.length === 0) return
    const events = this.batch
    this.batch = []
    this.sessionIndex = new Map()
    for (const subscriber of [...this.subscribers]) {
      try {
        subscriber(events)
      } catch {
        // One broken subscriber must not starve the others.
      }
    }
  }

  /** Add a subscriber; returns its unsubscribe function. */
  subscribe(onBatch: (events: ConsoleEvent[]) => void): () => void {
    this.subscribers.add(onBatch)
    return () => {
      this.subscribers.delete(onBatch)
    }
  }

  /** Deliver the rest and drop every subscriber. */
  close(): void {
    this.flush()
    this.subscribers.clear()
  }
}

/** The key under which later snapshots of the same thing replace earlier ones in a batch, if any. */
function foldKey(event: ConsoleEvent): string | undefined {
  switch (event.kind) {
    case 'session':
      return event.session.direction === 'inbound' ? `s:${event.session.sessionId}` : undefined
    case 'token':
      return `k:${event.token.tokenId}`
    case 'tally':
      return `t:${event.tally.tallyId}`
    case 'peer':
      return `p:${event.peer.peerId}`
    default:
      return undefined
  }
}
