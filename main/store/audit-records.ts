/** What the audit trail writes and reads back: operator records, SessionEvents and query bounds. */
import type { AuditQuery } from '../views/console-queries.ts'
import type { SessionEvent } from '../bootstrap/types.ts'
import type { AuditRecord } from './audit-coalesce.ts'
import { hashOf } from './audit-chain.ts'
import { AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT } from './audit-defaults.ts'
import { openJournal } from './journal.ts'

/** Who did an operator action: the shell it came through (`system`: the node itself). */
export type Actor = 'electron' | 'browser' | 'cli' | 'system'

/** An operator record of the trail (never a token text or a credential). */
export interface OperatorRecord {
  op: string
  actor: Actor
  at: number
  sessionId?: string
  tokenId?: string
  tallyId?: string
  /** Short, secret-free facts (a decision, a filter, a row count). */
  detail?: Record<string, string | number | boolean>
}

/** A query's limit clamped to the allowed range, with its other bounds. */
export function normalise(query: AuditQuery): {
  limit: number
  before: number | undefined
  sessionId: string | undefined
} {
  const raw = query.limit ?? AUDIT_DEFAULT_LIMIT
  const limit = Number.isFinite(raw)
    ? Math.min(AUDIT_MAX_LIMIT, Math.max(1, Math.floor(raw)))
    : AUDIT_DEFAULT_LIMIT
  return { limit, before: query.before, sessionId: query.sessionId }
}

const EVENT_KEYS = [
  'sessionId',
  'direction',
  'state',
  'previousState',
  'at',
  'peerId',
  'tokenId',
  'tallyId',
  'role',
  'reason'
] as const

/** Keep only the fields a SessionEvent has, so nothing else (never a token) reaches the disk. */
export function pickEvent(event: SessionEvent): SessionEvent {
  const out: Record<string, unknown> = {}
  for (const key of EVENT_KEYS) {
    const value = event[key]
    if (value !== undefined) out[key] = value
  }
  if (out.previousState === undefined) out.previousState = null
  return out as unknown as SessionEvent
}

/** A SessionEvent read back from a line (undefined: another record, or damaged); its hash is dropped. */
export function parseEvent(text: string): AuditRecord | undefined {
  try {
    const v = JSON.parse(text) as (Partial<AuditRecord> & { h?: unknown }) | null
    if (
      v === null ||
      typeof v !== 'object' ||
      typeof v.sessionId !== 'string' ||
      typeof v.at !== 'number' ||
      typeof v.state !== 'string'
    ) {
      return undefined
    }
    delete v.h
    return v as AuditRecord
  } catch {
    return undefined
  }
}

/** The hash of the last chained record of a rotated file (undefined: none). */
export async function lastHashOf(file: string): Promise<string | undefined> {
  let journal
  try {
    ;({ journal } = await openJournal(file))
  } catch {
    return undefined
  }
  try {
    for await (const line of journal.readBackward()) return hashOf(line.text)
    return undefined
  } finally {
    await journal.close()
  }
}
