/**
 * The mirror each cadre node keeps of tokens, tallies, pending approvals, live nodes and recent audit
 * events: loaded whole from the database, then kept current from the notes every change sends.
 */
import type { Pool } from 'pg'
import type { ApprovalView } from '../../views/console-views.ts'
import type { SessionEvent } from '../../bootstrap/types.ts'
import type { CadreNote } from './notify.ts'
import type { NodeApproval, PgApprovals } from './pg-approvals.ts'
import type { PgAudit } from './pg-audit.ts'
import type { PgNodes } from './pg-nodes.ts'
import type { PgTallies } from './pg-tallies.ts'
import type { PgTokens } from './pg-tokens.ts'

/** The parts of a cadre node's store that hold the mirror. */
export interface CadreMirror {
  pool: Pool
  /** This node's name in the cadre. */
  node: string
  tokens: PgTokens
  tallies: PgTallies
  approvals: PgApprovals
  nodes: PgNodes
  audit: PgAudit
}

/** Read tokens, tallies, pending approvals and recent audit events again. */
export async function reloadMirror(mirror: CadreMirror): Promise<void> {
  await mirror.tokens.load()
  await mirror.tallies.load()
  const approvals = await mirror.pool.query<{ view: ApprovalView; node: string }>(
    "SELECT view, node FROM approvals WHERE status = 'pending'"
  )
  mirror.approvals.load(approvals.rows.map((r) => ({ ...r.view, node: r.node })))
  const audit = await mirror.pool.query<{ event: SessionEvent }>(
    'SELECT event FROM audit ORDER BY id DESC LIMIT 2000'
  )
  for (const r of audit.rows.reverse()) mirror.audit.remember(r.event)
}

/** Apply a note to the mirror; `remote` is told the audit events of the other nodes. */
export function applyCadreNote(
  { node, tokens, tallies, approvals, nodes, audit }: CadreMirror,
  note: CadreNote,
  remote: (event: SessionEvent, node: string) => void
): void {
  switch (note.k) {
    case 'token':
      tokens.apply(note.row, true)
      return
    case 'tally':
      if (note.row !== undefined) tallies.apply(note.row, true)
      else if (note.id !== undefined) void tallies.fetch(note.id)
      return
    case 'approval':
      if (note.n !== node) approvals.noteRequested(note.view as NodeApproval)
      return
    case 'decided':
      approvals.noteDecided(note.sessionId, note.decision)
      return
    case 'node':
      nodes.note(note.n, note.addrs)
      return
    case 'audit':
      if (note.n === node) return
      for (const event of note.events) {
        audit.remember(event)
        remote(event, note.n)
      }
  }
}
