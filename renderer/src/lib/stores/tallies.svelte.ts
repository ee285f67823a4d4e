/** Tallies of this node: the newest page, those that arrived live, and older pages asked for. */
import type { TaleusApi, TallyView } from '../../../../preload/contract.ts'
import { LIST_DEFAULT_LIMIT } from '../../../../main/views/console-queries.ts'
import { compareTallies } from '../../../../main/views/list-filters.ts'
import { mergeInto } from './keyed.ts'

/** An older view of a tally never replaces a newer one. */
const newer = (a: TallyView, b: TallyView): boolean => a.updatedAt >= b.updatedAt

/** The tallies screen's source. */
export class TalliesStore {
  byId = $state.raw(new Map<string, TallyView>())
  /** Newest first. */
  list = $derived([...this.byId.values()].sort(compareTallies))
  /** True when older tallies exist than those loaded (a page came back full). */
  hasOlder = $state(false)
  /** True while a page is on its way. */
  loading = $state(false)
  /** The last row of the last page: where the next one starts. */
  #cursor: TallyView | undefined

  /** Merges a snapshot's first page and notes whether older tallies exist. */
  loadFirst(views: readonly TallyView[]): void {
    this.#cursor = views.at(-1)
    this.hasOlder = views.length >= LIST_DEFAULT_LIMIT
    this.apply(views)
  }

  /** Upserts tallies; an older view never replaces a newer one. */
  apply(views: readonly TallyView[]): void {
    if (views.length === 0) return
    this.byId = mergeInto(this.byId, views, (t) => t.tallyId, newer)
  }

  /** Loads the page after the last one (the screen's "Load older tallies"). */
  async loadOlder(api: TaleusApi): Promise<void> {
    const last = this.#cursor
    if (last == null) return
    this.loading = true
    try {
      const page = await api.listTallies({ before: last.createdAt, beforeId: last.tallyId })
      if (page.length > 0) this.#cursor = page.at(-1)
      this.hasOlder = page.length >= LIST_DEFAULT_LIMIT
      this.apply(page)
    } finally {
      this.loading = false
    }
  }
}
