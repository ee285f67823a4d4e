/**
 * A list screen's filters answered by the node a page at a time: the console holds only a list's newest
 * page and what arrived live, so a search there would miss older rows that the list's export includes.
 */
import type { PageQuery } from '../../../../preload/contract.ts'
import { LIST_DEFAULT_LIMIT } from '../../../../main/views/console-queries.ts'

/** How long typing pauses before the node is asked. */
export const SEARCH_PAUSE_MS = 200

/** Options of a NodeSearch. */
export interface NodeSearchInit<Q extends PageQuery, T> {
  /** The screen's filters (a `$derived` value: a new object when a filter changes). */
  query: () => Q
  /** True when `q` filters anything (else the loaded rows are the list). */
  filtered: (q: Q) => boolean
  /** The node's answer to one page of `q`. */
  fetch: (q: Q) => Promise<T[]>
  /** Where the page after `last` starts. */
  cursor: (last: T) => { before: number; beforeId: string }
}

/** The pages of one query the node answered. */
class Pages<Q extends PageQuery, T> {
  rows = $state.raw<T[]>([])
  hasOlder = $state(false)
  loading = $state(false)

  constructor(
    readonly query: Q,
    private readonly init: NodeSearchInit<Q, T>
  ) {}

  async more(): Promise<void> {
    const last = this.rows.at(-1)
    const page = last === undefined ? this.query : { ...this.query, ...this.init.cursor(last) }
    this.loading = true
    try {
      const rows = await this.init.fetch(page)
      this.rows = [...this.rows, ...rows]
      this.hasOlder = rows.length >= (page.limit ?? LIST_DEFAULT_LIMIT)
    } finally {
      this.loading = false
    }
  }
}

/** Asks the node for the current filters once typing pauses; create it while a component initialises. */
export class NodeSearch<Q extends PageQuery, T> {
  /** Why the last page could not be loaded. */
  error = $state<unknown>()
  #pages = $state.raw<Pages<Q, T>>()

  constructor(private readonly init: NodeSearchInit<Q, T>) {
    $effect(() => {
      const q = init.query()
      if (!init.filtered(q)) {
        this.#pages = undefined
        return
      }
      const next = new Pages(q, init)
      const timer = setTimeout(() => {
        this.#pages = next
        this.#load(next)
      }, SEARCH_PAUSE_MS)
      return () => clearTimeout(timer)
    })
  }

  /** The node's rows for the current filters, or undefined (unfiltered, or not answered yet). */
  get found(): T[] | undefined {
    return this.#current()?.rows
  }

  /** True while the current filters wait for the node's first answer. */
  get searching(): boolean {
    const q = this.init.query()
    if (!this.init.filtered(q)) return false
    const pages = this.#current()
    return pages === undefined || (pages.loading && pages.rows.length === 0)
  }

  /** With filters set: whether the node has more matches than it sent; undefined when unfiltered. */
  get hasOlder(): boolean | undefined {
    return this.#current()?.hasOlder
  }

  get loading(): boolean {
    return this.#current()?.loading === true
  }

  /** The next page of the current filters' matches. */
  more(): void {
    const pages = this.#current()
    if (pages !== undefined) this.#load(pages)
  }

  #current(): Pages<Q, T> | undefined {
    const pages = this.#pages
    return pages !== undefined && pages.query === this.init.query() ? pages : undefined
  }

  #load(pages: Pages<Q, T>): void {
    this.error = undefined
    pages.more().catch((err: unknown) => {
      if (this.#pages === pages) this.error = err
    })
  }
}

/**
 * The rows a filtered list shows: the loaded rows that match, and the node's matches in their newest view
 * (`fresher` picks between a found row and the loaded one), still matching, in the list's order.
 */
export function mergeFound<T>(parts: {
  loaded: readonly T[]
  found: readonly T[] | undefined
  key: (row: T) => string
  fresher: (found: T) => T
  matches: (row: T) => boolean
  compare: (a: T, b: T) => number
}): T[] {
  const { loaded, found, key } = parts
  if (found === undefined || found.length === 0) return [...loaded]
  const byKey = new Map<string, T>()
  for (const row of found) byKey.set(key(row), parts.fresher(row))
  for (const row of loaded) byKey.set(key(row), row)
  return [...byKey.values()].filter(parts.matches).sort(parts.compare)
}
