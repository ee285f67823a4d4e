/** What a cadre node's store is opened with, and the events it sends beyond a MerchantStore's. */
import type { Pool } from 'pg'
import type { SessionEvent } from '../../bootstrap/types.ts'
import type { StoreEvents } from '../types.ts'

/** Events beyond StoreEvents: another node's session transitions, for the cadre's one console. */
export interface CadreStoreEvents extends StoreEvents {
  'remote-session': CustomEvent<SessionEvent & { node: string }>
}

/** What the store was opened with (see openPgStore). */
export interface PgStoreParts {
  pool: Pool
  schema: string
  channel: string
  node: string
  dataDir: string
  secret: Buffer
  now: () => number
  auditFlushMs?: number
  auditMemoryEvents?: number
  staleNodeMs: number
  heartbeatMs: number
}
