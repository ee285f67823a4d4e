/**
 * Session history across restarts: the live table starts from the audit trail's newest sessions, so a
 * restart does not empty the Sessions screen. Bounded: at most `maxSessions` sessions and `maxRecords`
 * records read back.
 */
import type { SessionEvent } from '../views/console-views.ts'
import type { SessionTable } from './session-table.ts'

/** Records read back at most while rebuilding (a flood of counted refusals cannot make a start slow). */
const MAX_RECORDS = 100_000

/** The part of the store the rebuild reads. */
export interface AuditSource {
  queryAuditRecords(
    match: (record: Record<string, unknown>) => boolean,
    limit: number,
    until?: (record: Record<string, unknown>) => boolean
  ): Promise<Array<Record<string, unknown>>>
}

/** Fill `table` with the newest `maxSessions` sessions of the trail; returns how many were restored. */
export async function restoreSessions(
  store: AuditSource,
  table: SessionTable,
  maxSessions: number
): Promise<number> {
  const seen = new Set<string>()
  let full = false
  const isEvent = (r: Record<string, unknown>): boolean =>
    typeof r.sessionId === 'string' && typeof r.state === 'string' && typeof r.at === 'number'
  const records = await store.queryAuditRecords(
    (r) => {
      if (!isEvent(r)) return false
      const id = r.sessionId as string
      if (seen.has(id)) return true
      if (seen.size >= maxSessions) {
        full = true
        return false
      }
      seen.add(id)
      return true
    },
    MAX_RECORDS,
    () => full
  )
  for (let i = records.length - 1; i >= 0; i--) table.apply(records[i] as unknown as SessionEvent)
  // sessions the last run left unfinished cannot go on: they ended with it
  table.endUnfinished()
  return seen.size
}
