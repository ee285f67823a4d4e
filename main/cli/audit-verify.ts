/**
 * `taleus audit verify --data-dir D`: check the audit trail's hash chain (read-only, so it works on a
 * running or a stopped node) and name the first record that does not verify.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { AuditVerifyResult } from '../views/console-queries.ts'
import { CliError } from './cli-error.ts'

/** Verify the trail of `dataDir`; resolves with the report (the caller decides the exit code). */
export async function auditVerify(dataDir: string): Promise<AuditVerifyResult> {
  const { verifyChain } = await import('../store/audit-chain.ts')
  const dir = resolve(dataDir)
  const path = join(dir, 'audit.jsonl')
  if (!existsSync(dir)) throw new CliError(`no data folder at ${dir}`)
  if (!existsSync(path)) throw new CliError(`no audit trail in ${dir} (audit.jsonl is missing)`)
  const report = await verifyChain(path)
  const result: AuditVerifyResult = {
    ok: report.ok,
    records: report.records,
    files: report.files,
    unchained: report.unchained,
    anchored: report.anchored
  }
  if (report.head !== undefined) result.head = report.head
  if (report.firstBreak !== undefined) result.firstBreak = { ...report.firstBreak }
  return result
}

/** The human lines of a report. */
export function describeVerify(r: AuditVerifyResult): string {
  const lines: string[] = []
  if (r.ok) {
    lines.push(`audit trail OK: ${r.records} records in ${r.files} file${r.files === 1 ? '' : 's'}`)
  } else {
    const where =
      r.firstBreak === undefined
        ? ''
        : `${r.firstBreak.file}${r.firstBreak.line > 0 ? ` line ${r.firstBreak.line}` : ''}`
    lines.push(`audit trail BROKEN at ${where}: ${r.firstBreak?.reason ?? 'unknown'}`)
    lines.push(`(${r.records} records verified before it)`)
  }
  if (r.unchained > 0)
    lines.push(`${r.unchained} older records were written before the chain and cannot be verified`)
  if (!r.anchored)
    lines.push('no head anchor yet: records cut from the end would not be noticed until the node stops once')
  if (r.head !== undefined) lines.push(`head ${r.head}`)
  return lines.join('\n')
}
