/**
 * Tokens of this node (never their secrets; links are fetched on demand and kept by the view).
 *
 * A customer display archives a token per customer, so archived tokens are loaded a page at a time, and
 * only while the tokens screen shows them; otherwise only the newest few stay, for a display still on one.
 */
import type { TaleusApi, TokenQuery, TokenView } from '../../../../preload/contract.ts'
import { LIST_DEFAULT_LIMIT } from '../../../../main/views/console-queries.ts'
import { compareTokens } from '../../../../main/views/list-filters.ts'
import { mergeInto } from './keyed.ts'

/** Archived tokens kept while nobody asked for them: a display whose token was just used still finds it. */
export const ARCHIVED_KEPT = 200

/** The tokens screen's source. */
export class TokensStore {
  byId = $state.raw(new Map<string, TokenView>())
  /** Newest first (the order of an export too). */
  list = $derived([...this.byId.values()].sort(compareTokens))
  /** True while the tokens screen shows archived tokens: they are loaded and kept. */
  archivedShown = $state(false)
  /** True when older tokens exist than those loaded (a page came back full). */
  hasOlder = $state(false)
  /** True while a page is on its way. */
  loading = $state(false)
  /** The last row of the last page asked for: where the next page starts. */
  #cursor: TokenView | undefined
  /** Ids ensure() is fetching, or found unknown to the node. */
  #asked = new Set<string>()

  /** Replaces everything with a snapshot: the first page of the newest tokens. */
  load(views: readonly TokenView[]): void {
    this.#cursor = views.at(-1)
    this.hasOlder = views.length >= LIST_DEFAULT_LIMIT
    this.#set(mergeInto(new Map(), views, (t) => t.tokenId))
  }

  /** Upserts tokens. */
  apply(views: readonly TokenView[]): void {
    if (views.length === 0) return
    this.#set(mergeInto(this.byId, views, (t) => t.tokenId))
  }

  /** The query of the first page: archived tokens too while they are shown. */
  firstPage(): TokenQuery {
    return this.archivedShown ? { archived: true } : {}
  }

  /**
   * Shows archived tokens (loads the first page with them) or hides them again (forgets all but the newest
   * archived, and pages the unarchived ones afresh).
   */
  async showArchived(api: TaleusApi, shown: boolean): Promise<void> {
    this.archivedShown = shown
    if (!shown) this.#set(new Map(this.byId))
    await this.#page(api, this.firstPage(), true)
  }

  /** Fetches one token by id unless it is loaded (a display opened on a code archived since). */
  async ensure(api: TaleusApi, tokenId: string): Promise<void> {
    // an id the node does not know is not asked for again at every token event
    if (this.byId.has(tokenId) || this.#asked.has(tokenId)) return
    this.#asked.add(tokenId)
    // the search matches ids by substring; ids have one length, so only this one matches in full
    try {
      const found = (await api.listTokens({ q: tokenId, archived: true, limit: 5 })).filter(
        (t) => t.tokenId === tokenId
      )
      // a token found may be trimmed later and asked for again; only an unknown id stays asked
      if (found.length > 0) this.#asked.delete(tokenId)
      this.apply(found)
    } catch (err) {
      this.#asked.delete(tokenId)
      throw err
    }
  }

  /** Loads the page after the last one (the screen's "Load older"). */
  async loadOlder(api: TaleusApi): Promise<void> {
    const last = this.#cursor
    if (last == null) return
    await this.#page(api, { ...this.firstPage(), before: last.createdAt, beforeId: last.tokenId }, false)
  }

  async #page(api: TaleusApi, query: TokenQuery, first: boolean): Promise<void> {
    this.loading = true
    try {
      const page = await api.listTokens(query)
      if (first || page.length > 0) this.#cursor = page.at(-1)
      this.hasOlder = page.length >= (query.limit ?? LIST_DEFAULT_LIMIT)
      this.apply(page)
    } finally {
      this.loading = false
    }
  }

  /** Keeps the map's archived tokens bounded while nobody shows them (amortised: trims at twice the bound). */
  #set(next: Map<string, TokenView>): void {
    if (!this.archivedShown) {
      let archived = 0
      for (const t of next.values()) if (t.archived === true) archived++
      if (archived > 2 * ARCHIVED_KEPT) {
        const old = [...next.values()]
          .filter((t) => t.archived === true)
          .sort(compareTokens)
          .slice(ARCHIVED_KEPT)
        for (const t of old) next.delete(t.tokenId)
      }
    }
    this.byId = next
  }
}
