/** Readable tables of the CLI (fixed-width columns, no colours). */
import type { ApprovalView, SessionView, TallyView, TokenView } from '../views/console-views.ts'
import { ownRole } from '../views/roles.ts'
import { printable, printableValue } from './terminal-text.ts'

/** Render rows under a header, each column as wide as its widest cell; cells made printable (most are others' text). */
export function table(header: string[], rawRows: string[][]): string {
  if (rawRows.length === 0) return '(none)'
  // escaped before measuring: a cell is as wide as what the terminal shows of it
  const rows = rawRows.map((r) => r.map(printable))
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

function when(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? 'never' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function short(id: string | undefined, size = 12): string {
  if (id === undefined || id === '') return '-'
  return id.length > size ? `${id.slice(0, size)}…` : id
}

/** `token list`. */
export function tokensTable(tokens: TokenView[]): string {
  return table(
    ['ID', 'LABEL', 'YOUR ROLE', 'USED', 'STATUS', 'APPROVAL', 'EXPIRES', 'CREATED'],
    tokens.map((t) => [
      t.tokenId,
      t.label || '-',
      t.role,
      `${t.used}/${t.uses}`,
      t.archived === true ? `${t.status} (archived)` : t.status,
      t.approval,
      when(t.expiresAt),
      when(t.createdAt)
    ])
  )
}

/** `sessions`. */
export function sessionsTable(sessions: SessionView[]): string {
  return table(
    // roles in the data are the merchant's (the link's); the column says this node's own
    ['SESSION', 'DIR', 'STATE', 'PEER', 'TOKEN', 'YOUR ROLE', 'RESULT', 'STARTED'],
    sessions.map((s) => [
      s.sessionId,
      s.direction === 'inbound' ? 'in' : 'out',
      s.state,
      short(s.peerId, 16),
      s.tokenLabel || s.tokenId || '-',
      s.role === undefined ? '-' : ownRole(s.role, s.direction),
      // a failed session may have named its tally before it failed: the reason is its result
      s.reason ?? s.tallyId ?? '-',
      when(s.startedAt)
    ])
  )
}

/** `tallies`. */
export function talliesTable(tallies: TallyView[]): string {
  return table(
    ['TALLY', 'STATUS', 'YOUR ROLE', 'DIR', 'COUNTERPARTY', 'NAME', 'TOKEN', 'CREATED'],
    tallies.map((t) => [
      t.tallyId,
      // a pending tally waits for the other party's verdict: say when it is asked next
      t.status === 'pending'
        ? `pending (${t.nextCheckAt === undefined ? 'waiting for the other party' : `next check ${when(t.nextCheckAt)}`})`
        : t.status,
      ownRole(t.role, t.direction),
      t.direction === 'inbound' ? 'in' : 'out',
      short(t.counterpartyPeerId, 16),
      t.counterpartyName ?? '-',
      t.tokenLabel || t.tokenId || '-',
      when(t.createdAt)
    ])
  )
}

/** `approvals`: who waits for the operator, with the identity they presented. */
export function approvalsTable(approvals: ApprovalView[]): string {
  return table(
    ['SESSION', 'TOKEN', 'PEER', 'IDENTITY', 'WAITING SINCE', 'GIVES UP'],
    approvals.map((a) => [
      a.sessionId,
      a.tokenLabel || a.tokenId,
      short(a.peerId, 16),
      // the customer's own words: quoted when they hold what would fake another field (`, email=…`)
      Object.entries(a.bundle)
        .map(([k, v]) => `${printableValue(k)}=${printableValue(String(v))}`)
        .join(', ') || '-',
      when(a.requestedAt),
      when(a.deadline)
    ])
  )
}
