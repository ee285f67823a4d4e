/** How a cadre node settles what no session will finish: stale approvals, tallies awaiting a verdict. */
import type { Pool } from 'pg'
import type { TallyView } from '../../views/console-views.ts'
import type { PgApprovals } from './pg-approvals.ts'
import { nodeTallyView } from './pg-tallies.ts'
import type { PgTallies } from './pg-tallies.ts'

/** Time out the approvals past their deadline whose node did not (for the whole cadre). */
export async function timeOutStaleApprovals(
  pool: Pool,
  approvals: PgApprovals,
  now: number,
  node: string
): Promise<void> {
  const stale = await pool.query<{ session_id: string }>(
    `UPDATE approvals SET status = 'timeout', decided_at = $1, decided_by = $2
     WHERE status = 'pending' AND deadline < $1 RETURNING session_id`,
    [now, node]
  )
  for (const r of stale.rows) approvals.noteDecided(r.session_id, 'timeout')
}

/** Tallies of `node` waiting for their counterparty's verdict (issue H), oldest first. */
export function pendingTalliesOf(tallies: PgTallies, node: string): TallyView[] {
  return tallies
    .records()
    .filter((r) => (r.status as string) === 'pending' && r.node === node)
    .sort((a, b) => a.createdAt - b.createdAt)
    .map(nodeTallyView)
}

/** The cadre's verdict on `tallyId` for the peer asking; undefined when that peer is not its counterparty. */
export function verdictOf(
  tallies: PgTallies,
  tallyId: string,
  remotePeerId: string
): 'confirmed' | 'abandoned' | 'unsettled' | undefined {
  if (typeof tallyId !== 'string' || typeof remotePeerId !== 'string') return undefined
  const r = tallies.get(tallyId)
  if (r === undefined || r.counterpartyPeerId !== remotePeerId) return undefined
  return r.status === 'confirmed' || r.status === 'abandoned' ? r.status : 'unsettled'
}
