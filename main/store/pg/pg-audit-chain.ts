/**
 * Issue G's hash chain on the cadre's audit table: one chain per node (each node writes its records in
 * order from one writer, so its chain needs no lock shared with the others). A record's `hash` is
 * chainHash(previous hash of that node, its text as written) — the same function as the lowdb trail —
 * and `nodes.audit_head` holds each node's last hash, written in the same statement as the records.
 */
import type { Pool } from 'pg'
import { GENESIS, chainHash } from '../audit-chain.ts'
import type { ChainReport } from '../audit-chain.ts'

/** Rows read per query while verifying. */
const PAGE = 5000

/** The last hash `node` wrote (GENESIS when none). */
export async function chainHeadOf(pool: Pool, node: string): Promise<string> {
  const res = await pool.query<{ hash: string }>(
    'SELECT hash FROM audit WHERE node = $1 AND hash IS NOT NULL ORDER BY id DESC LIMIT 1',
    [node]
  )
  return res.rows[0]?.hash ?? GENESIS
}

/** Verify every node's chain; `head` is `self`'s last hash. A break names the node and its record. */
export async function verifyCadreChain(pool: Pool, self: string): Promise<ChainReport> {
  const report: ChainReport = { ok: true, records: 0, files: 0, unchained: 0, anchored: true }
  const nodes = await pool.query<{ node: string; audit_head: string | null }>(
    'SELECT n.node, n.audit_head FROM nodes n WHERE EXISTS (SELECT 1 FROM audit a WHERE a.node = n.node) ORDER BY n.node'
  )
  for (const { node, audit_head: anchor } of nodes.rows) {
    report.files++
    let prev = GENESIS
    let line = 0
    let lastId = 0
    for (;;) {
      const rows = await pool.query<{
        id: number
        body: string | null
        prev_hash: string | null
        hash: string | null
      }>('SELECT id, body, prev_hash, hash FROM audit WHERE node = $1 AND id > $2 ORDER BY id LIMIT $3', [
        node,
        lastId,
        PAGE
      ])
      for (const row of rows.rows) {
        line++
        lastId = Number(row.id)
        if (row.hash === null || row.body === null) {
          // written before the chain existed: only ahead of every chained record
          if (prev === GENESIS) {
            report.unchained++
            continue
          }
          return broken(report, node, line, 'a record without a hash after chained ones')
        }
        if (row.prev_hash !== prev) return broken(report, node, line, 'a record is missing before this one')
        if (chainHash(prev, row.body) !== row.hash)
          return broken(report, node, line, 'the record was altered')
        prev = row.hash
        report.records++
      }
      if (rows.rows.length < PAGE) break
    }
    if (anchor === null) report.anchored = false
    else if (anchor !== prev) return broken(report, node, 0, 'records were cut from the end of the chain')
    if (node === self) report.head = prev
  }
  return report
}

function broken(report: ChainReport, node: string, line: number, reason: string): ChainReport {
  return { ...report, ok: false, firstBreak: { file: `audit of node ${node}`, line, reason } }
}
