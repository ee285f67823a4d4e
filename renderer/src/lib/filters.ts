/** List filters shared by the Tallies and Tokens screens: their inputs as the query the node filters by. */

const DAY_MS = 86_400_000

/**
 * The local dates `from` and `to` (`YYYY-MM-DD`, both inclusive; '' = open) as a query's epoch-ms bounds:
 * `from` is the start of its day, `to` the start of the day after (exclusive).
 */
export function dateBounds(from: string, to: string): { from?: number; to?: number } {
  const bounds: { from?: number; to?: number } = {}
  if (from !== '') {
    const start = new Date(`${from}T00:00:00`).getTime()
    if (Number.isFinite(start)) bounds.from = start
  }
  if (to !== '') {
    const end = new Date(`${to}T00:00:00`).getTime()
    if (Number.isFinite(end)) bounds.to = end + DAY_MS
  }
  return bounds
}

/** The search text of a list's query, or undefined when it is blank. */
export function searchText(text: string): string | undefined {
  const trimmed = text.trim()
  return trimmed === '' ? undefined : trimmed
}
