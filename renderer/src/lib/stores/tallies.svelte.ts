/** Tallies of this node: the newest page, those that arrived live, and older pages asked for. */
import type { TaleusApi, TallyQuery, TallyView } from '../../../../preload/contract.ts'
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

/**
 * The node's answer to a filtered query, a page at a time: a search covers every tally of the node, not
 * only those loaded.
 */
export class TallySearch {
  /** The rows found so far, in the node's order. */
  found = $state.raw<TallyView[]>([])
  /** True when the last page came back full. */
  hasOlder = $state(false)
  loading = $state(false)

  constructor(
    private readonly api: TaleusApi,
    readonly query: TallyQuery
  ) {}

  /** The next page of the query (the first when none was loaded). */
  async more(): Promise<void> {
    const last = this.found.at(-1)
    const page: TallyQuery =
      last == null ? this.query : { ...this.query, before: last.createdAt, beforeId: last.tallyId }
    this.loading = true
    try {
      const rows = await this.api.listTallies(page)
      this.found = [...this.found, ...rows]
      this.hasOlder = rows.length >= LIST_DEFAULT_LIMIT
    } finally {
      this.loading = false
    }
  }
}
