/**
 * What cadre nodes tell each other over PostgreSQL NOTIFY (one channel per schema). Payloads carry the
 * changed row, so a node updates its mirror without a query; PostgreSQL caps a payload at 8000 bytes,
 * so audit batches are cut into chunks and an oversized tally is announced by id only.
 */
import type { ApprovalView, Decision } from '../../views/console-views.ts'
import type { SessionEvent } from '../../bootstrap/types.ts'
import type { IndexEntry } from '../../tallydb/tally-index.ts'
import type { TallyRow, TokenRow } from './pg-rows.ts'

/** Largest payload we send (PostgreSQL refuses 8000 bytes and more). */
export const MAX_PAYLOAD = 7900

/** One notification. `n` names the node that sent it. */
export type CadreNote =
  | { k: 'token'; n: string; row: TokenRow }
  | { k: 'tally'; n: string; row?: TallyRow; id?: string }
  | { k: 'approval'; n: string; view: ApprovalView }
  | { k: 'decided'; n: string; sessionId: string; decision: Decision | 'timeout' }
  | { k: 'audit'; n: string; events: SessionEvent[] }
  | { k: 'node'; n: string; addrs: string[] }
  /** A chunk of a tally document was stored: its key, and its bytes (base64) when they fit. */
  | { k: 'tdoc'; n: string; key: string[]; d?: string }
  /** A tally document's index entry was written (`rev`: the row's, newest wins). */
  | { k: 'tidx'; n: string; entry: IndexEntry; rev: number }

/** The channel of `schema`. */
export function channelOf(schema: string): string {
  return `taleus_${schema}`
}

/** Audit events as payloads of at most MAX_PAYLOAD bytes each. */
export function auditPayloads(node: string, events: SessionEvent[]): string[] {
  const out: string[] = []
  let batch: SessionEvent[] = []
  let size = 0
  const head = JSON.stringify({ k: 'audit', n: node, events: [] }).length
  for (const e of events) {
    const len = Buffer.byteLength(JSON.stringify(e)) + 1
    if (batch.length > 0 && head + size + len > MAX_PAYLOAD) {
      out.push(JSON.stringify({ k: 'audit', n: node, events: batch }))
      batch = []
      size = 0
    }
    if (head + len > MAX_PAYLOAD) continue
    batch.push(e)
    size += len
  }
  if (batch.length > 0) out.push(JSON.stringify({ k: 'audit', n: node, events: batch }))
  return out
}

/** Parse a payload; undefined when it is not one of ours. */
export function parseNote(payload: string | undefined): CadreNote | undefined {
  if (payload === undefined) return undefined
  try {
    const v = JSON.parse(payload) as CadreNote | null
    if (v === null || typeof v !== 'object' || typeof v.k !== 'string' || typeof v.n !== 'string')
      return undefined
    return v
  } catch {
    return undefined
  }
}
