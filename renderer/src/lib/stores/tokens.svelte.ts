/** Tokens of this node (never their secrets; links are fetched on demand and kept by the view). */
import type { TokenView } from '../../../../preload/contract.ts'
import { compareTokens } from '../../../../main/views/list-filters.ts'
import { mergeInto } from './keyed.ts'

/** The tokens screen's source. */
export class TokensStore {
  byId = $state.raw(new Map<string, TokenView>())
  /** Newest first (the order of an export too). */
  list = $derived([...this.byId.values()].sort(compareTokens))

  /** Replaces everything with a snapshot, keeping any update already received. */
  load(views: readonly TokenView[]): void {
    this.byId = mergeInto(new Map(), views, (t) => t.tokenId)
  }

  /** Upserts tokens. */
  apply(views: readonly TokenView[]): void {
    if (views.length === 0) return
    this.byId = mergeInto(this.byId, views, (t) => t.tokenId)
  }
}
