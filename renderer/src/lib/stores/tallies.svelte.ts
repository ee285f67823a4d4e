/** Tallies of this node. */
import type { TallyView } from '../../../../preload/contract.ts'
import { compareTallies } from '../../../../main/views/list-filters.ts'
import { mergeInto } from './keyed.ts'

/** The tallies screen's source. */
export class TalliesStore {
  byId = $state.raw(new Map<string, TallyView>())
  /** Newest first. */
  list = $derived([...this.byId.values()].sort(compareTallies))

  /** Upserts tallies; an older view never replaces a newer one. */
  apply(views: readonly TallyView[]): void {
    if (views.length === 0) return
    this.byId = mergeInto(
      this.byId,
      views,
      (t) => t.tallyId,
      (a, b) => a.updatedAt >= b.updatedAt
    )
  }
}
