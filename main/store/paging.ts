/**
 * Pages of the list commands (tallies, sessions): newest first, at most `limit` items, after a cursor,
 * so a node that holds 100 000 rows never answers with all of them at once.
 */
import type { PageQuery } from '../views/console-queries.ts'
import { LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT } from '../views/console-queries.ts'

/** The page of `items` that `query` asks for; `at` and `id` give an item's time and id (newest first). */
export function pageOf<T>(
  items: Iterable<T>,
  at: (item: T) => number,
  id: (item: T) => string,
  query: PageQuery = {}
): T[] {
  const raw = query.limit ?? LIST_DEFAULT_LIMIT
  const limit = Number.isFinite(raw)
    ? Math.min(LIST_MAX_LIMIT, Math.max(1, Math.floor(raw)))
    : LIST_DEFAULT_LIMIT
  const { before, beforeId } = query
  const newer = (a: T, b: T): number => at(b) - at(a) || (id(a) < id(b) ? 1 : id(a) > id(b) ? -1 : 0)
  const kept: T[] = []
  for (const item of items) {
    if (before !== undefined) {
      const t = at(item)
      // the cursor is the last item of the previous page: strictly older, ties broken by id
      if (t > before || (t === before && (beforeId === undefined || id(item) >= beforeId))) continue
    }
    kept.push(item)
  }
  return kept.sort(newer).slice(0, limit)
}
