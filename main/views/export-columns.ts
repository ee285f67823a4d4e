/**
 * The columns of the console's exports (Tallies, Tokens, the Node screen's audit trail): one definition
 * shared by the screens (what a list shows) and the service's exportRows (the file it writes and records),
 * so that an export holds what the screen shows. Pure: no DOM or Node imports.
 */
import { ownRole } from './roles.ts'
import type { SessionEvent, TallyView, TokenView } from './console-views.ts'

/** One exported column: its CSV header, its JSON key and the cell of a row. */
export interface ExportColumn<T> {
  key: string
  header: string
  value: (row: T) => string
}

const iso = (at: number): string => new Date(at).toISOString()

/** The tallies' fixed columns: exactly the fields the list shows (ids in full). */
export const TALLY_COLUMNS: ReadonlyArray<ExportColumn<TallyView>> = [
  { key: 'tallyId', header: 'Tally', value: (t) => t.tallyId },
  { key: 'status', header: 'Status', value: (t) => t.status },
  { key: 'counterpartyPeerId', header: 'Counterparty', value: (t) => t.counterpartyPeerId },
  { key: 'counterpartyName', header: 'Counterparty name', value: (t) => t.counterpartyName ?? '' },
  { key: 'role', header: 'Your role', value: (t) => ownRole(t.role, t.direction) },
  { key: 'direction', header: 'Direction', value: (t) => t.direction },
  { key: 'tokenLabel', header: 'Token', value: (t) => t.tokenLabel ?? '' },
  { key: 'createdAt', header: 'Created', value: (t) => iso(t.createdAt) }
]

/** Identity fields presented by the counterparties of `rows`, sorted: one list column (and export column) each. */
export function identityFieldsOf(rows: readonly TallyView[]): string[] {
  return [...new Set(rows.flatMap((t) => Object.keys(t.counterpartyIdentity ?? {})))].sort()
}

/** A counterparty's identity value for `field`, '' when it gave none. */
export function identityValue(t: TallyView, field: string): string {
  const identity = t.counterpartyIdentity
  return identity != null && Object.hasOwn(identity, field) ? (identity[field] ?? '') : ''
}

/** The columns of a tallies export of `rows`: the fixed ones, then one per identity field they hold. */
export function tallyColumns(rows: readonly TallyView[]): Array<ExportColumn<TallyView>> {
  return [
    ...TALLY_COLUMNS,
    ...identityFieldsOf(rows).map((field) => ({
      key: `identity.${field}`,
      header: `Identity: ${field}`,
      value: (t: TallyView) => identityValue(t, field)
    }))
  ]
}

/** The tokens' columns: what the list shows, ids in full, never a link. */
export const TOKEN_COLUMNS: ReadonlyArray<ExportColumn<TokenView>> = [
  { key: 'tokenId', header: 'Token', value: (t) => t.tokenId },
  { key: 'label', header: 'Label', value: (t) => t.label },
  { key: 'role', header: 'Your role', value: (t) => t.role },
  { key: 'uses', header: 'Uses', value: (t) => String(t.uses) },
  { key: 'used', header: 'Used', value: (t) => String(t.used) },
  { key: 'status', header: 'Status', value: (t) => t.status },
  { key: 'archived', header: 'Archived', value: (t) => (t.archived === true ? 'yes' : 'no') },
  { key: 'approval', header: 'Approval', value: (t) => t.approval },
  { key: 'identityRequirements', header: 'Identity asked', value: (t) => t.identityRequirements.join(' ') },
  { key: 'expiresAt', header: 'Expires', value: (t) => (t.expiresAt == null ? '' : iso(t.expiresAt)) },
  { key: 'createdAt', header: 'Created', value: (t) => iso(t.createdAt) }
]

/** The audit trail's columns (the Node screen's session events). */
export const AUDIT_COLUMNS: ReadonlyArray<ExportColumn<SessionEvent>> = [
  { key: 'at', header: 'Time', value: (e) => iso(e.at) },
  { key: 'sessionId', header: 'Session', value: (e) => e.sessionId },
  { key: 'direction', header: 'Direction', value: (e) => e.direction },
  { key: 'previousState', header: 'From', value: (e) => e.previousState ?? '' },
  { key: 'state', header: 'State', value: (e) => e.state },
  { key: 'peerId', header: 'Peer', value: (e) => e.peerId },
  { key: 'tokenId', header: 'Token', value: (e) => e.tokenId ?? '' },
  { key: 'tallyId', header: 'Tally', value: (e) => e.tallyId ?? '' },
  { key: 'reason', header: 'Reason', value: (e) => e.reason ?? '' }
]

function csvCell(text: string): string {
  // Quote always; neutralise leading formula characters so a spreadsheet never evaluates a cell.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
  return `"${safe.replaceAll('"', '""')}"`
}

/** CSV (RFC 4180, CRLF, every cell quoted) of `rows` with the given columns, header first. */
export function toCsv<T>(rows: readonly T[], columns: ReadonlyArray<ExportColumn<T>>): string {
  const lines = [columns.map((c) => csvCell(c.header)).join(',')]
  for (const row of rows) lines.push(columns.map((c) => csvCell(c.value(row))).join(','))
  return lines.join('\r\n') + '\r\n'
}

/** JSON (an array of objects keyed by column key, in column order) of `rows`. */
export function toJson<T>(rows: readonly T[], columns: ReadonlyArray<ExportColumn<T>>): string {
  const data = rows.map((row) => Object.fromEntries(columns.map((c) => [c.key, c.value(row)])))
  return JSON.stringify(data, null, 2) + '\n'
}
