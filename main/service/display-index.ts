/**
 * Each customer display's newest token and the tokens that served a customer, kept from the store's token
 * events. A display is looked at on every event of its customer's session; a scan of every token of the
 * node there grew with every customer the display had served (docs/performance.md, K "Seventeenth pass").
 */
import type { TokenView } from '../views/console-views.ts'
import type { MerchantStore } from '../store/types.ts'

/** What the index knows of one display. */
export interface DisplayEntry {
  /** Its newest token: the QR it shows. */
  currentId: string
  currentAt: number
  /** Its tokens whose one customer has been served. */
  served: Set<string>
}

/** Whether a display's token has served its customer (used up, whether revoked or expired since). */
function hasServed(t: TokenView): boolean {
  return t.uses !== 'unlimited' && t.used >= t.uses
}

/** The displays of one store, built from one scan of its tokens and then kept by `update`. */
export class DisplayIndex {
  #store: MerchantStore | undefined
  #entries = new Map<string, DisplayEntry>()

  /** The display `displayId` of `store`, undefined when no token belongs to it. */
  entry(store: MerchantStore, displayId: string): DisplayEntry | undefined {
    if (store !== this.#store) this.rebuild(store)
    return this.#entries.get(displayId)
  }

  /** A token of `store` was created or changed. */
  update(store: MerchantStore, view: TokenView): void {
    // a store opened since (a restart of the service) is scanned afresh, this change included
    if (store !== this.#store) this.rebuild(store)
    else this.#apply(view)
  }

  /** Scan every token of `store` again. */
  rebuild(store: MerchantStore): void {
    this.#store = store
    this.#entries = new Map()
    const tokens = store.listTokens()
    // oldest first, so of tokens made in the same millisecond the one listed first stays current
    for (let i = tokens.length - 1; i >= 0; i--) this.#apply(tokens[i] as TokenView)
  }

  #apply(t: TokenView): void {
    const { displayId } = t
    if (displayId === undefined) return
    let entry = this.#entries.get(displayId)
    if (entry === undefined) {
      entry = { currentId: t.tokenId, currentAt: t.createdAt, served: new Set() }
      this.#entries.set(displayId, entry)
    } else if (t.tokenId !== entry.currentId && t.createdAt >= entry.currentAt) {
      entry.currentId = t.tokenId
      entry.currentAt = t.createdAt
    }
    if (hasServed(t)) entry.served.add(t.tokenId)
    else entry.served.delete(t.tokenId)
  }
}
