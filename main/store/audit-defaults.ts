/** The audit trail's defaults and options: how much it keeps in memory and on disk, how it coalesces. */

/** Default and largest number of events one query returns. */
export const AUDIT_DEFAULT_LIMIT = 200
export const AUDIT_MAX_LIMIT = 5000

/** Events kept in memory when no size is given. */
export const AUDIT_MEMORY_EVENTS = 10_000
/** Default cap on the whole trail on disk (current + rotated files). */
export const AUDIT_MAX_BYTES = 64 * 1024 * 1024
/** Default number of files the trail keeps (the current one included). */
export const AUDIT_FILES = 4
/** Default window in which repeated rejected contacts of one kind become one counted record. */
export const AUDIT_COALESCE_MS = 60_000
/** Default longest wait of a listener session's first event for its second. */
export const AUDIT_HOLD_MS = 1_000

/** Options of the audit trail. */
export interface AuditLogInit {
  memoryEvents?: number
  flushMs?: number
  /** Cap in bytes on the whole trail (current + rotated files). Default 64 MiB. */
  maxBytes?: number
  /** Files kept, the current one included (at least 2). Default 4. */
  files?: number
  /** Coalescing window of rejected contacts; 0 writes every event. Default 60 000. */
  coalesceMs?: number
  /** Longest a listener session's first event waits for its second. Default 1 000. */
  holdMs?: number
  /** When it returns true (disk low), every rejected contact is counted and none written in full. */
  shed?: () => boolean
  /** Told the bytes of each write (the disk guard's estimate of free space between checks). */
  onWrite?: (bytes: number) => void
  /** Clock of the coalescing windows (tests). Default Date.now. */
  now?: () => number
}
