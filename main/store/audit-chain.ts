/**
 * The audit trail's hash chain, for tampering (the per-line CRC of journal.ts is for torn or flipped
 * bytes). Every record written carries `h` = sha256(previous record's `h` + "\n" + its canonical JSON),
 * so editing a record breaks its own hash and deleting one breaks its successor's. The canonical JSON of
 * a record is its text exactly as written, without the `"h"` member that closes it: the writer fixes the
 * serialisation once, so hashing costs one sha256 per line (no parse, no re-serialisation).
 *
 * Files: each file of the trail starts with a header record `{"chain":"file","seq":N,"keep":K,"prev":H}`
 * naming the hash it continues (the last record of file N-1) and how many files the trail keeps. So the
 * oldest file left after a rotation deleted its predecessor is explicitly anchored (`prev`), and a
 * deleted rotated file shows as a gap in `seq` (or fewer files than `keep` allows).
 * The end: `audit.head.json` holds the chain head written at each rotation and on close; a trail that no
 * longer contains that hash lost records at its end. A node that finds its trail shorter than its head at
 * open writes a `{"chain":"gap"}` record, so the loss stays visible after later writes.
 */
import { createHash } from 'node:crypto'
import { open, readFile, readdir } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { writeFileDurable } from './durable-file.ts'
import { scanJournal } from './journal.ts'
import { rotatedPath } from './audit-files.ts'

/** Hash before the first record of a trail. */
export const GENESIS = ''

/** The chain hash of a record whose canonical JSON is `body`, after `prev`. */
export function chainHash(prev: string, body: string): string {
  return createHash('sha256').update(`${prev}\n${body}`).digest('base64url')
}

/** The closing `h` member of a chained line (a sha256 in base64url is 43 characters). */
const H_MEMBER = /,"h":"([A-Za-z0-9_-]{43})"\}$/

/** A chained line's canonical JSON (its text without the `h` member) and `h`; undefined when not chained. */
export function splitChained(text: string): { body: string; h: string } | undefined {
  const m = H_MEMBER.exec(text)
  if (m === null) return undefined
  return { body: `${text.slice(0, m.index)}}`, h: m[1] as string }
}

/** The path of the head anchor of the trail whose current file is `path`. */
export function headPath(path: string): string {
  const name = basename(path)
  const stem = name.endsWith('.jsonl') ? name.slice(0, -'.jsonl'.length) : name
  return join(dirname(path), `${stem}.head.json`)
}

/** Contents of the head anchor. */
export interface ChainHead {
  seq: number
  h: string
  at: number
}

/** The chain state of a writer: the last hash written and the current file's sequence number. */
export class ChainState {
  constructor(
    public head: string,
    public seq: number,
    readonly keep: number
  ) {}

  /** Chain `texts` (JSON object texts, never with an `h`) after the head; returns the lines and the new head (commit it once written). */
  link(texts: string[]): { lines: string[]; head: string } {
    let head = this.head
    const lines = texts.map((text) => {
      head = chainHash(head, text)
      return `${text.slice(0, -1)}${text.length > 2 ? ',' : ''}"h":"${head}"}`
    })
    return { lines, head }
  }

  /** The header record of file `seq`, continuing the head. */
  header(seq: number, at: number): string {
    return JSON.stringify({ chain: 'file', seq, keep: this.keep, prev: this.head, at })
  }

  /** Write the head anchor (durable). */
  async anchor(path: string, at: number): Promise<void> {
    const head: ChainHead = { seq: this.seq, h: this.head, at }
    await writeFileDurable(headPath(path), JSON.stringify(head) + '\n')
  }
}

/** The head anchor, or undefined when none is readable. */
export async function readHead(path: string): Promise<ChainHead | undefined> {
  try {
    const v = JSON.parse(await readFile(headPath(path), 'utf8')) as Partial<ChainHead>
    if (typeof v.seq === 'number' && typeof v.h === 'string' && typeof v.at === 'number')
      return v as ChainHead
  } catch {
    // none yet, or unreadable: the trail is then not anchored at its end
  }
  return undefined
}

/** The `seq` of the file header that starts `file` (undefined: none, or the file is not chained). */
export async function headerSeq(file: string): Promise<number | undefined> {
  let seq: number | undefined
  const stop = new Error('stop')
  try {
    await scanJournal(file, (line) => {
      if (line.damaged) return
      const r = parse(line.text)
      if (r === undefined || typeof r.h !== 'string') return
      if (r.chain === 'file' && typeof r.seq === 'number') seq = r.seq
      throw stop
    })
  } catch {
    // stopped at the first chained record, or unreadable
  }
  return seq
}

/** The `h` of a chained JSON record text, if it has one. */
export function hashOf(text: string): string | undefined {
  return splitChained(text)?.h
}

/** True when `h` is the hash of a record of `file`. */
export async function fileHasHash(file: string, h: string): Promise<boolean> {
  let found = false
  try {
    await scanJournal(file, (line) => {
      if (!found && !line.damaged && line.text.includes(h)) found = hashOf(line.text) === h
    })
  } catch {
    return false
  }
  return found
}

/** The first place where the trail does not verify. */
export interface ChainBreak {
  /** File name (in the data folder). */
  file: string
  /** 1-based line number in that file (0: the file as a whole). */
  line: number
  reason: string
}

/** Result of verifyChain. */
export interface ChainReport {
  ok: boolean
  /** Chained records checked. */
  records: number
  /** Files of the trail read. */
  files: number
  /** Records written before the chain existed (not verifiable). */
  unchained: number
  /** The last hash, to note down and compare later. */
  head?: string
  /** False when no head anchor was found (records cut from the end would go unnoticed). */
  anchored: boolean
  firstBreak?: ChainBreak
}

/** Rotated file numbers of the trail at `path` present on disk, highest (oldest) first. */
async function rotatedNumbers(path: string): Promise<number[]> {
  const name = basename(path)
  const stem = name.endsWith('.jsonl') ? name.slice(0, -'.jsonl'.length) : name
  const re = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)\\.jsonl$`)
  const names = await readdir(dirname(path)).catch(() => [] as string[])
  return names
    .map((n) => re.exec(n)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => b - a)
}

/** Verify the whole trail whose current file is `path` (read-only; safe while the node runs). */
export async function verifyChain(path: string): Promise<ChainReport> {
  const files = [...(await rotatedNumbers(path)).map((n) => rotatedPath(path, n)), path]
  const anchor = await readHead(path)
  const report: ChainReport = { ok: true, records: 0, files: 0, unchained: 0, anchored: anchor !== undefined }
  let prev: string | undefined
  let lastSeq: number | undefined
  let firstSeq: number | undefined
  let keep: number | undefined
  let anchorSeen = false
  let fail: ChainBreak | undefined
  const stop = new Error('stop')
  for (const file of files) {
    const exists = await open(file, 'r').then(
      async (fh) => {
        await fh.close()
        return true
      },
      () => false
    )
    if (!exists) continue
    report.files++
    const name = basename(file)
    let headerSeen = false
    try {
      await scanJournal(file, (line) => {
        const at = (reason: string): never => {
          fail = { file: name, line: line.number, reason }
          throw stop
        }
        if (line.damaged) at('the line is damaged (checksum mismatch)')
        const r = parse(line.text)
        if (r === undefined) at('not a JSON record')
        const record = r as Record<string, unknown>
        if (typeof record.h !== 'string') {
          if (prev === undefined) {
            report.unchained++
            return
          }
          at('a record without a chain hash among chained ones')
        }
        if (record.chain === 'file') {
          const seq = record.seq
          const declared = record.prev
          if (typeof seq !== 'number' || typeof declared !== 'string') at('a malformed file header')
          if (headerSeen) at('a second file header in one file')
          if (prev !== undefined && declared !== prev)
            at('this file does not continue the one before it (records or a file were deleted)')
          if (lastSeq !== undefined && seq !== lastSeq + 1)
            at(`file ${String(lastSeq + 1)} of the trail is missing (deleted)`)
          headerSeen = true
          lastSeq = seq as number
          firstSeq ??= seq as number
          if (typeof record.keep === 'number') keep = record.keep
          prev = declared as string
        } else if (prev === undefined) {
          at('the start of the trail was cut (the first chained record is not a file header)')
        } else if (!headerSeen) {
          at('the start of this file was cut (its file header is missing)')
        }
        const chained = splitChained(line.text)
        if (chained === undefined || chained.h !== record.h) at('the chain hash is not where it belongs')
        if (chainHash(prev as string, (chained as { body: string }).body) !== record.h)
          at('the record was edited, or a record before it was deleted')
        if (record.chain === 'gap')
          at('the node found records missing at the end of its trail when it started (deleted or lost)')
        prev = record.h as string
        report.records++
        if (anchor !== undefined && record.h === anchor.h) anchorSeen = true
      })
    } catch (err) {
      if (err !== stop) {
        fail = { file: name, line: 0, reason: 'the file cannot be read' }
      }
    }
    if (fail !== undefined) break
  }
  if (fail === undefined && lastSeq !== undefined && firstSeq !== undefined && keep !== undefined) {
    const expectedFirst = Math.max(1, lastSeq - keep + 1)
    if (firstSeq > expectedFirst) {
      fail = {
        file: basename(rotatedPath(path, lastSeq - firstSeq + 1)),
        line: 0,
        reason: `the oldest file of the trail is missing (file ${String(expectedFirst)} was deleted)`
      }
    }
  }
  if (fail === undefined && anchor !== undefined && !anchorSeen) {
    fail = {
      file: basename(path),
      line: 0,
      reason: 'records at the end of the trail were deleted (it no longer holds its recorded head)'
    }
  }
  if (prev !== undefined) report.head = prev
  if (fail !== undefined) {
    report.ok = false
    report.firstBreak = fail
  }
  return report
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}
