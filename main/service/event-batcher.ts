/**
 * Batches console events for subscribers so a rush of sessions reaches IPC/SSE as a few messages:
 * at most one batch per interval, with repeated updates of one inbound session in a batch folded into the
 * latest (every step of an outbound dial is kept: the Dial screen shows them as progress).
 */
import type { ConsoleEvent } from '../../preload/contract.ts'

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
  /** Index in `batch` of the latest 'session' event of each session. */
  private sessionIndex = new Map<string, number>()
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(init: EventBatcherInit = {}) {
    this.intervalMs = init.intervalMs ?? 50
  }

  /** Queue one event; nothing is kept while no one listens. */
  push(event: ConsoleEvent): void {
    if (this.subscribers.size === 0) return
    // Inbound rushes are folded per session; outbound dials are few and the Dial screen shows each step.
    if (event.kind === 'session' && event.session.direction === 'inbound') {
      const at = this.sessionIndex.get(event.session.sessionId)
      if (at !== undefined) {
        this.batch[at] = event
        return
      }
      this.sessionIndex.set(event.session.sessionId, this.batch.length)
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
