/** List filters shared by the Tallies and Tokens screens. */

/** True when `at` (epoch ms) falls between the local dates `from` and `to` (`YYYY-MM-DD`, both inclusive; '' = open). */
export function inDateRange(at: number, from: string, to: string): boolean {
  if (from !== '') {
    const start = new Date(`${from}T00:00:00`).getTime()
    if (Number.isFinite(start) && at < start) return false
  }
  if (to !== '') {
    const end = new Date(`${to}T00:00:00`).getTime()
    if (Number.isFinite(end) && at >= end + 86_400_000) return false
  }
  return true
}
