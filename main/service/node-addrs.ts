/** This node's dialable addresses as text, cached: libp2p recomputes them from scratch on every call. */
import type { Libp2p } from '@libp2p/interface'

/** Longest our cached addresses are used without asking libp2p again (a missed change heals this fast). */
const ADDR_CACHE_MS = 1000

/** This node's multiaddrs as text, each ending in /p2p/<peerId>, until they change (or ADDR_CACHE_MS). */
export class AddrCache {
  readonly #peerId: string
  #cache: { at: number; addrs: string[] } | undefined

  constructor(peerId: string) {
    this.#peerId = peerId
  }

  /** Ask libp2p again on the next read (its addresses changed, or it started). */
  invalidate(): void {
    this.#cache = undefined
  }

  /** The addresses of `node` (none when it is not running). */
  get(node: Libp2p | undefined): string[] {
    if (node === undefined) return []
    const now = Date.now()
    // every session discloses our cadre and names our addresses in its tally: libp2p's address manager
    // recomputes them from scratch on each call (1.5 % of a rush's CPU), so they are cached until they change
    if (this.#cache === undefined || now - this.#cache.at > ADDR_CACHE_MS) {
      const suffix = `/p2p/${this.#peerId}`
      const addrs = node.getMultiaddrs().map((ma) => {
        const text = ma.toString()
        return text.endsWith(suffix) ? text : `${text}${suffix}`
      })
      this.#cache = { at: now, addrs }
    }
    return this.#cache.addrs.slice()
  }
}
