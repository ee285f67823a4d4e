/**
 * Rows of the PostgreSQL store as the store's records, and back. Token fields the table has no column
 * for (added by later issues) travel in `extra`, so a newer TokenRecord survives the round trip.
 */
import type { TallyRecord } from '../tally-book.ts'
import type { TokenRecord } from '../token-book.ts'

/** A tokens row (as selected, or as `to_jsonb(row)` in a notification). */
export interface TokenRow {
  token_id: string
  token_hash: string
  label: string
  role: TokenRecord['role']
  uses: number | null
  used: number
  expires_at: number | string | null
  revoked: boolean
  identity_requirements: string[]
  approval: TokenRecord['approval']
  approval_timeout_ms: number | string
  created_at: number | string
  extra: Record<string, unknown> | null
  rev: number | string
}

/** A tallies row. */
export interface TallyRow {
  tally_id: string
  status: string
  node: string
  updated_at: number | string
  record: TallyRecord
  rev: number | string
}

/** A tally record together with the cadre node that holds its session. */
export type NodeTally = TallyRecord & { node: string }

const TOKEN_COLUMNS = new Set([
  'tokenId',
  'tokenHash',
  'label',
  'role',
  'uses',
  'used',
  'expiresAt',
  'revoked',
  'identityRequirements',
  'approval',
  'approvalTimeoutMs',
  'createdAt'
])

/** The TokenRecord of a row. */
export function tokenFromRow(row: TokenRow): TokenRecord {
  const record: TokenRecord = {
    ...(row.extra ?? {}),
    tokenId: row.token_id,
    tokenHash: row.token_hash,
    label: row.label,
    role: row.role,
    uses: row.uses === null ? 'unlimited' : Number(row.uses),
    used: Number(row.used),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    revoked: row.revoked,
    identityRequirements: [...row.identity_requirements],
    approval: row.approval,
    approvalTimeoutMs: Number(row.approval_timeout_ms),
    createdAt: Number(row.created_at)
  }
  return record
}

/** The insert parameters of a new token, in column order of INSERT_TOKEN. */
export function tokenParams(t: TokenRecord): unknown[] {
  const extra: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(t)) if (!TOKEN_COLUMNS.has(k)) extra[k] = v
  return [
    t.tokenId,
    t.tokenHash,
    t.label,
    t.role,
    t.uses === 'unlimited' ? null : t.uses,
    t.used,
    t.expiresAt,
    t.revoked,
    JSON.stringify(t.identityRequirements),
    t.approval,
    t.approvalTimeoutMs,
    t.createdAt,
    JSON.stringify(extra)
  ]
}

/** The tally record of a row: the stored record with the row's status and time. */
export function tallyFromRow(row: TallyRow): NodeTally {
  return {
    ...row.record,
    status: row.status as TallyRecord['status'],
    updatedAt: Number(row.updated_at),
    node: row.node
  }
}

/** A copy of `r` fit for a notification: never the counterparty's database credentials. */
export function notifiable(r: TallyRecord): TallyRecord {
  return { ...r, dbConnectionInfo: { nodes: [...r.dbConnectionInfo.nodes], credentials: '' } }
}
