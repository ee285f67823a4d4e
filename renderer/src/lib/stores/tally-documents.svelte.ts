/**
 * The shared documents of the tallies on screen, fed by the `tally-document` live event: each watched
 * tally is read again (getTallyDocument) when its document changes or its channel opens or closes.
 */
import type { TallyDocumentView, TaleusApi } from '../../../../preload/contract.ts'

/** What the console knows of one tally's document. */
export interface TallyDocumentState {
  view?: TallyDocumentView
  /** The last read failed (the view, if any, is the last good one). */
  error?: unknown
  /** A read is under way (the first one may take a few seconds: the node tries to reach the counterparty). */
  loading: boolean
}

/** A `tally-document` event, as the store needs it. */
export interface TallyDocumentEvent {
  tallyId: string
  connected?: boolean
}

/** The tally documents' source. */
export class TallyDocumentsStore {
  byId = $state.raw(new Map<string, TallyDocumentState>())
  readonly #api: () => TaleusApi
  /** How many screens watch each tally. */
  readonly #watchers = new Map<string, number>()
  readonly #reading = new Map<string, Promise<void>>()
  /** Tallies to read once more when the read under way ends (an event came during it). */
  readonly #again = new Set<string>()

  constructor(api: () => TaleusApi) {
    this.#api = api
  }

  /** Keep `tallyId`'s document fresh until the returned function is called. */
  watch(tallyId: string): () => void {
    this.#watchers.set(tallyId, (this.#watchers.get(tallyId) ?? 0) + 1)
    void this.refresh(tallyId)
    return () => {
      const n = (this.#watchers.get(tallyId) ?? 1) - 1
      if (n > 0) this.#watchers.set(tallyId, n)
      else this.#watchers.delete(tallyId)
    }
  }

  /** Read a tally's document now; reads of one tally never overlap (one more follows if asked meanwhile). */
  refresh(tallyId: string): Promise<void> {
    const running = this.#reading.get(tallyId)
    if (running !== undefined) {
      this.#again.add(tallyId)
      return running
    }
    this.#patch(tallyId, { loading: true })
    const read = this.#api()
      .getTallyDocument({ tallyId })
      .then(
        (view) => this.#set(tallyId, { view, loading: false }),
        (error: unknown) => this.#patch(tallyId, { error, loading: false })
      )
      .finally(() => {
        this.#reading.delete(tallyId)
        if (this.#again.delete(tallyId) && this.#watchers.has(tallyId)) void this.refresh(tallyId)
      })
    this.#reading.set(tallyId, read)
    return read
  }

  /** Read every watched document again (after the event stream reconnected: events were lost). */
  refreshWatched(): void {
    for (const id of this.#watchers.keys()) void this.refresh(id)
  }

  /** Apply a batch of `tally-document` events: the channel state at once, then a fresh read. */
  apply(events: readonly TallyDocumentEvent[]): void {
    if (events.length === 0) return
    const ids = new Set<string>()
    let next: Map<string, TallyDocumentState> | undefined
    for (const e of events) {
      if (!this.#watchers.has(e.tallyId)) continue
      ids.add(e.tallyId)
      const old = (next ?? this.byId).get(e.tallyId)
      if (e.connected !== undefined && old?.view !== undefined && old.view.connected !== e.connected) {
        next ??= new Map(this.byId)
        next.set(e.tallyId, { ...old, view: { ...old.view, connected: e.connected } })
      }
    }
    if (next !== undefined) this.byId = next
    for (const id of ids) void this.refresh(id)
  }

  #set(tallyId: string, state: TallyDocumentState): void {
    const next = new Map(this.byId)
    next.set(tallyId, state)
    this.byId = next
  }

  #patch(tallyId: string, patch: Partial<TallyDocumentState>): void {
    const old = this.byId.get(tallyId) ?? { loading: false }
    this.#set(tallyId, { ...old, ...patch })
  }
}
