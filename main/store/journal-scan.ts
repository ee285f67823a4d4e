/**
 * Reading a journal's file: forward in chunks at open and for checks (memory holds a chunk and one line,
 * never the whole file), backward from the end for history, and finding where the last whole line ends.
 */
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { MAX_LINE_BYTES, unsealLine } from './journal-seal.ts'
import type { ScannedLine } from './journal-seal.ts'

const NEWLINE = 0x0a
const CHUNK = 64 * 1024
/** Forward reads at open: big enough to stream a large file quickly, small enough to never matter. */
export const READ_CHUNK = 1024 * 1024

/** One line as read back: its text and where it starts in the file. */
export interface JournalLine {
  text: string
  offset: number
}

/** Stream every whole line of a journal file (read-only), for checks; returns the lines' end and the torn tail. */
export async function scanJournal(
  path: string,
  onLine: (line: ScannedLine) => void | Promise<void>
): Promise<{ size: number; end: number; tornBytes: number }> {
  const fh = await open(path, 'r')
  try {
    const size = (await fh.stat()).size
    const { end } = await scanLines(fh, size, onLine)
    return { size, end, tornBytes: size - end }
  } finally {
    await fh.close()
  }
}
/** Read `fh` forward in chunks and hand each whole line to `onLine`; memory holds a chunk and one line. */
export async function scanLines(
  fh: FileHandle,
  size: number,
  onLine: (line: ScannedLine) => void | Promise<void>
): Promise<{ end: number; newlineMissing: boolean }> {
  const chunk = Buffer.alloc(Math.min(READ_CHUNK, Math.max(size, 1)))
  let carry: Buffer[] = []
  let carryBytes = 0
  let lineStart = 0
  let number = 0
  let pos = 0
  while (pos < size) {
    const n = Math.min(chunk.length, size - pos)
    await readFully(fh, chunk.subarray(0, n), pos)
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start)
      if (nl === -1 || nl >= n) break
      number++
      const bytes = carryBytes + nl - start
      let raw: string | undefined
      if (bytes <= MAX_LINE_BYTES) {
        raw =
          carryBytes === 0
            ? chunk.toString('utf8', start, nl)
            : Buffer.concat([...carry, chunk.subarray(start, nl)]).toString('utf8')
      }
      carry = []
      carryBytes = 0
      const unsealed = raw === undefined ? undefined : unsealLine(raw)
      // an empty line was never written by a journal (blank lines of hand edits are skipped)
      if (bytes > 0) {
        const pending = onLine({
          number,
          offset: lineStart,
          bytes,
          text: unsealed?.text ?? raw ?? '',
          sealed: unsealed?.sealed ?? true,
          damaged: unsealed === undefined
        })
        if (pending !== undefined) await pending
      }
      lineStart = pos + nl + 1
      start = nl + 1
    }
    if (start < n) {
      // keep the start of a line that goes on in the next chunk (only up to the cap: past it, it is damage)
      if (carryBytes <= MAX_LINE_BYTES) carry.push(Buffer.from(chunk.subarray(start, n)))
      carryBytes += n - start
    }
    pos += n
  }
  const tail =
    carryBytes > 0 && carryBytes <= MAX_LINE_BYTES ? Buffer.concat(carry).toString('utf8') : undefined
  const unsealed = tail === undefined ? undefined : unsealLine(tail)
  if (unsealed?.sealed === true) {
    // a whole sealed record that only lacks its newline: a line like any other (the caller adds the newline)
    const pending = onLine({
      number: number + 1,
      offset: lineStart,
      bytes: carryBytes,
      text: unsealed.text,
      sealed: true,
      damaged: false
    })
    if (pending !== undefined) await pending
    return { end: size, newlineMissing: true }
  }
  return { end: lineStart, newlineMissing: false }
}
/** Read exactly `buf.length` bytes at `position` (fewer only at the end of the file). */
export async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0
  while (off < buf.length) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, position + off)
    if (bytesRead === 0) break
    off += bytesRead
  }
}
/** Offset just past the last newline at or before `size` (0 if none). */
export async function lastLineEnd(fh: FileHandle, size: number): Promise<number> {
  let pos = size
  while (pos > 0) {
    const n = Math.min(CHUNK, pos)
    pos -= n
    const buf = Buffer.alloc(n)
    await readFully(fh, buf, pos)
    const nl = buf.lastIndexOf(NEWLINE)
    if (nl !== -1) return pos + nl + 1
  }
  return 0
}
/** Whole lines (still sealed) ending at or before `end`, newest first. */
export async function* readLinesBackward(fh: FileHandle, end: number): AsyncGenerator<JournalLine> {
  let pos = end
  // bytes of a line whose start lies before `pos`; always ends with its newline
  let carry: Buffer = Buffer.alloc(0)
  while (pos > 0) {
    const n = Math.min(CHUNK, pos)
    pos -= n
    const chunk = Buffer.alloc(n)
    await readFully(fh, chunk, pos)
    const buf = carry.length > 0 ? Buffer.concat([chunk, carry]) : chunk
    let lineEnd = buf.length
    for (;;) {
      const nl = lineEnd >= 2 ? buf.lastIndexOf(NEWLINE, lineEnd - 2) : -1
      if (nl === -1) break
      if (lineEnd - 1 > nl + 1)
        yield { text: buf.toString('utf8', nl + 1, lineEnd - 1), offset: pos + nl + 1 }
      lineEnd = nl + 1
    }
    carry = buf.subarray(0, lineEnd)
  }
  if (carry.length > 1) yield { text: carry.toString('utf8', 0, carry.length - 1), offset: 0 }
}
