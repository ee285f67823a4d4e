/**
 * `taleus doctor`: check a stopped node's journals line by line (checksums, record shape, order, a
 * confirmed tally said to be downgraded) and, with `--repair`, keep a backup of each damaged file and
 * rewrite it with its good lines only. A store refuses to start on such damage (JournalCorruptError)
 * rather than guess; this is where a person decides.
 */
import { copyFile, open, readdir, rename, unlink } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { acquireLock } from '../store/lock.ts'
import { FORMAT_FILE, readFolderFormat } from '../store/folder-format.ts'
import { CliError } from './cli-error.ts'
import { printable } from './terminal-text.ts'
import { scanJournal, sealLine, syncDir } from '../store/journal.ts'
import type { ScannedLine } from '../store/journal.ts'
import { parseRecord } from '../store/tally-book.ts'

/** One problem line of a journal. */
export interface DamagedLine {
  line: number
  detail: string
}

/** What doctor found in one journal file (and did to it). */
export interface JournalReport {
  file: string
  lines: number
  /** Lines written before checksums existed. */
  legacyLines: number
  damaged: DamagedLine[]
  /** Lines that would have turned a confirmed tally back into draft or abandoned (ignored when read). */
  downgrades: DamagedLine[]
  /** Bytes of a torn last line (a crash mid-write; the store cuts these itself). */
  tornBytes: number
  /** Tallies named by a damaged line: they may have been settled by it, check them with the counterparty. */
  review: string[]
  /** Set when repaired: the untouched copy. */
  backup?: string
}

/** Options of doctor. */
export interface DoctorInit {
  dataDir: string
  repair?: boolean
  /** Clock for the backup's name (tests). */
  now?: () => number
}

const JOURNAL = /^(tallies|tokens-archive|audit(\.\d+)?)\.jsonl$/
/** Files every node's data folder has once it ran. */
const DATA_FILES = new Set(['tokens.json', 'secret', 'peer.key', FORMAT_FILE])
const TALLY_ID = /"tallyId":"([^"\\]{1,200})"/

/** Check (and with `repair`, repair) every journal of a data folder the node is not running on. */
export async function doctor(init: DoctorInit): Promise<JournalReport[]> {
  const dir = resolve(init.dataDir)
  const found = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new CliError(`no folder at ${dir}: give the node's --data-dir`)
    if (err.code === 'ENOTDIR') throw new CliError(`${dir} is a file, not a data folder`)
    throw err
  })
  // checked before the lock: a wrong folder gets no .lock file of ours
  if (!found.some((n) => DATA_FILES.has(n) || JOURNAL.test(n)))
    throw new CliError(`${dir} is not a Taleus data folder (no tokens.json, tallies.jsonl or audit trail)`)
  // refuses while a node owns the folder: never rewrite a journal under a live writer
  const lock = await acquireLock(dir)
  try {
    // a newer version's journals may hold lines this one would take for damage and cut away
    await readFolderFormat(dir)
    const names = (await readdir(dir)).filter((n) => JOURNAL.test(n)).sort()
    const reports: JournalReport[] = []
    for (const name of names) {
      const report = await checkJournal(join(dir, name), name === 'tallies.jsonl')
      if (init.repair === true && needsRepair(report)) {
        report.backup = await repairJournal(dir, name, report, (init.now ?? Date.now)())
      }
      reports.push(report)
    }
    return reports
  } finally {
    await lock.release()
  }
}

/** Whether a report shows anything a repair would change. */
export function needsRepair(r: JournalReport): boolean {
  return r.damaged.length > 0 || r.downgrades.length > 0 || r.tornBytes > 0
}

async function checkJournal(path: string, tallies: boolean): Promise<JournalReport> {
  const report: JournalReport = {
    file: path,
    lines: 0,
    legacyLines: 0,
    damaged: [],
    downgrades: [],
    tornBytes: 0,
    review: []
  }
  const verdict = judge(tallies)
  const { tornBytes } = await scanJournal(path, (line) => {
    report.lines++
    if (!line.sealed && !line.damaged) report.legacyLines++
    const problem = verdict(line)
    if (problem === undefined) return
    if (problem.downgrade) report.downgrades.push({ line: line.number, detail: problem.detail })
    else report.damaged.push({ line: line.number, detail: problem.detail })
    const id = TALLY_ID.exec(line.text)?.[1]
    if (tallies && !problem.downgrade && id !== undefined && !report.review.includes(id))
      report.review.push(id)
  })
  report.tornBytes = tornBytes
  return report
}

/** A judge of a journal's lines, in order: what is wrong with a line, or undefined. */
function judge(tallies: boolean): (line: ScannedLine) => { detail: string; downgrade?: boolean } | undefined {
  let sealedSeen = false
  const confirmed = new Set<string>()
  return (line) => {
    if (line.damaged) return { detail: 'checksum mismatch' }
    if (line.sealed) sealedSeen = true
    else if (sealedSeen) return { detail: 'no checksum on a line after checksummed ones' }
    if (!tallies) {
      try {
        const v = JSON.parse(line.text) as unknown
        return v !== null && typeof v === 'object' && !Array.isArray(v)
          ? undefined
          : { detail: 'not an object' }
      } catch {
        return { detail: 'not JSON' }
      }
    }
    const record = parseRecord(line.text)
    if (record === undefined) return { detail: 'not a tally record' }
    if (record.status === 'confirmed') confirmed.add(record.tallyId)
    else if (confirmed.has(record.tallyId))
      return { detail: `tally ${record.tallyId} confirmed, then ${record.status}`, downgrade: true }
    return undefined
  }
}

/** Copy the file aside, then replace it (temp + fsync + rename) by its good lines, all sealed. */
async function repairJournal(dir: string, name: string, report: JournalReport, now: number): Promise<string> {
  const path = join(dir, name)
  const backup = join(dir, `${name}.bak-${new Date(now).toISOString().replace(/[:.]/g, '-')}`)
  await copyFile(path, backup)
  const bh = await open(backup, 'r+')
  await bh.sync().finally(async () => bh.close())
  const bad = new Set([...report.damaged, ...report.downgrades].map((d) => d.line))
  const temp = join(dir, `.${name}.repair`)
  const fh = await open(temp, 'w', 0o600)
  try {
    let batch: string[] = []
    let bytes = 0
    await scanJournal(path, async (line) => {
      if (bad.has(line.number)) return
      const sealed = sealLine(line.text)
      batch.push(sealed)
      bytes += sealed.length
      if (bytes < 1024 * 1024) return
      const text = batch.join('\n') + '\n'
      batch = []
      bytes = 0
      await fh.write(text)
    })
    if (batch.length > 0) await fh.write(batch.join('\n') + '\n')
    await fh.sync()
  } catch (err) {
    await fh.close()
    await unlink(temp).catch(() => {})
    throw err
  }
  await fh.close()
  await rename(temp, path)
  await syncDir(dir)
  return backup
}

/** The report as lines a person reads. */
export function describeReports(reports: JournalReport[], repaired: boolean): string {
  const out: string[] = []
  for (const r of reports) {
    const problems = r.damaged.length + r.downgrades.length
    out.push(
      `${r.file}: ${r.lines} lines (${r.legacyLines} without checksum), ` +
        (problems === 0 && r.tornBytes === 0 ? 'ok' : `${problems} damaged, torn tail ${r.tornBytes} bytes`)
    )
    // details and ids quote the damaged lines themselves
    for (const d of r.damaged) out.push(`  line ${d.line}: ${printable(d.detail)}`)
    for (const d of r.downgrades) out.push(`  line ${d.line}: ${printable(d.detail)} (ignored when read)`)
    for (const id of r.review)
      out.push(
        `  review tally ${printable(id)}: a damaged line named it; confirm its state with the counterparty`
      )
    if (r.backup !== undefined) out.push(`  repaired; the file as it was is kept in ${r.backup}`)
  }
  if (!repaired && reports.some(needsRepair)) out.push('run again with --repair to fix (a backup is kept)')
  return out.join('\n')
}
