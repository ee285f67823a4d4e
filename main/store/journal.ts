/**
 * An append-only JSON Lines file with group commit: appends that arrive while a write is in flight are
 * batched into the next single durable write (O_DSYNC; write + fdatasync where the platform lacks it), so
 * a rush costs one fsync per batch, not per record, and a write never rewrites what is already on disk
 * (cost independent of the file's size).
 *
 * Crash safety: each batch is one write of whole lines. A kill -9 can at worst leave a torn last line,
 * which `openJournal` cuts off. A failed write (disk full) is truncated back to the last good length so
 * the file never holds a half line in the middle; if even that fails the journal refuses further writes
 * (and the next open repairs the tail).
 *
 * Integrity: every line is written sealed, `{"_c":"<crc32 hex>",…}`: the record's own JSON with its
 * CRC-32 as first member, so the file stays JSON Lines while one damaged byte anywhere in a line is
 * detected. Lines without `_c` (written before checksums) are read as legacy lines. Opening streams the
 * file in chunks (memory independent of its size); only a torn last line may be cut, and a caller's
 * `onLine` sees every other line first, so it can refuse damage before anything is changed.
 */
import { constants } from 'node:fs'
import { open, rename } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { StoreClosedError, toWriteError } from './errors.ts'
import { MAX_LINE_BYTES, sealLine, unsealLine } from './journal-seal.ts'
import type { ScannedLine } from './journal-seal.ts'

export { MAX_LINE_BYTES, sealLine, unsealLine }
export type { ScannedLine }

const NEWLINE = 0x0a
const CHUNK = 64 * 1024
/** Forward reads at open: big enough to stream a large file quickly, small enough to never matter. */
const READ_CHUNK = 1024 * 1024
/**
 * O_DSYNC where the platform has it: each write returns once its data is on disk, so a batch costs one
 * thread-pool round trip instead of write + fdatasync (two), which is most of a lone session's store time.
 */
const DSYNC: number = constants.O_DSYNC ?? 0
const APPEND_FLAGS: number | string =
  DSYNC !== 0 ? constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | DSYNC : 'a+'

/** Options of a journal. */
export interface JournalInit {
  /** 0: start writing at once (group commit only batches what queued meanwhile); > 0: wait this long to batch more. */
  flushDelayMs?: number
}

interface Pending {
  text: string
  resolve(): void
  reject(err: unknown): void
}

/** One line as read back: its text and where it starts in the file. */
export interface JournalLine {
  text: string
  offset: number
}

/** An open append-only JSON Lines file. */
export class Journal {
  readonly path: string
  #fh: FileHandle
  #size: number
  #delay: number
  #queue: Pending[] = []
  #timer: ReturnType<typeof setTimeout> | undefined
  #flushing: Promise<void> | undefined
  #broken: Error | undefined
  #closed = false

  constructor(path: string, fh: FileHandle, size: number, init: JournalInit = {}) {
    this.path = path
    this.#fh = fh
    this.#size = size
    this.#delay = init.flushDelayMs ?? 0
  }

  /** Bytes of whole lines on disk. */
  get size(): number {
    return this.#size
  }

  /** Queue lines (JSON text without newline); resolves once they are written and fdatasync'ed. */
  append(lines: string[]): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreClosedError())
    if (this.#broken !== undefined) return Promise.reject(this.#broken)
    if (lines.length === 0) return Promise.resolve()
    const text = lines.map(sealLine).join('\n') + '\n'
    const promise = new Promise<void>((resolve, reject) => {
      this.#queue.push({ text, resolve, reject })
    })
    this.#schedule()
    return promise
  }

  /** Write whatever is queued now, without waiting for the batching delay. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    while (this.#flushing !== undefined || this.#queue.length > 0) {
      if (this.#flushing === undefined) this.#kick()
      await this.#flushing
    }
  }

  /** Read whole lines backwards from `end` (default: the end), newest first; damaged lines are skipped. */
  async *readBackward(end = this.#size): AsyncGenerator<JournalLine> {
    for await (const line of readLinesBackward(this.#fh, end)) {
      const unsealed = unsealLine(line.text)
      if (unsealed !== undefined) yield { text: unsealed.text, offset: line.offset }
    }
  }

  /** Flush, then close the file. Later appends reject with StoreClosedError. */
  async close(): Promise<void> {
    if (this.#closed) return
    await this.flush().catch(() => {})
    this.#closed = true
    await this.#fh.close().catch(() => {})
  }

  #schedule(): void {
    if (this.#flushing !== undefined || this.#timer !== undefined) return
    if (this.#delay > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        this.#kick()
      }, this.#delay)
    } else {
      this.#kick()
    }
  }

  #kick(): void {
    if (this.#flushing !== undefined) return
    this.#flushing = this.#drain().finally(() => {
      this.#flushing = undefined
      if (this.#queue.length > 0) this.#schedule()
    })
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0)
      if (this.#broken !== undefined) {
        for (const p of batch) p.reject(this.#broken)
        continue
      }
      try {
        await this.#write(Buffer.from(batch.map((p) => p.text).join(''), 'utf8'))
        for (const p of batch) p.resolve()
      } catch (err) {
        const error = toWriteError(err, this.path)
        for (const p of batch) p.reject(error)
      }
    }
  }

  async #write(buf: Buffer): Promise<void> {
    const before = this.#size
    try {
      let off = 0
      while (off < buf.length) {
        const { bytesWritten } = await this.#fh.write(buf, off, buf.length - off)
        off += bytesWritten
      }
      if (DSYNC === 0) await this.#fh.datasync()
      this.#size = before + buf.length
    } catch (err) {
      try {
        // cut off a partial batch so the next append does not follow half a line
        await this.#fh.truncate(before)
      } catch {
        this.#broken = toWriteError(err, this.path)
      }
      throw err
    }
  }
}

/** What opening a journal found. */
export interface OpenedJournal {
  journal: Journal
  /** Bytes of a torn last line that were cut off. */
  repairedBytes: number
}

/** Options of openJournal. */
export interface OpenJournalInit extends JournalInit {
  /**
   * Called with every whole line, oldest first, streamed (never the whole file in memory). If it throws,
   * the open fails with that error and the file is left exactly as it was (not even a torn tail is cut).
   */
  onLine?: (line: ScannedLine) => void | Promise<void>
}

/** Open (creating if needed) a journal; cut off a torn last line left by a crash. */
export async function openJournal(path: string, init: OpenJournalInit = {}): Promise<OpenedJournal> {
  let fh: FileHandle
  try {
    // O_APPEND: every write lands at the end, also after a truncate
    fh = await open(path, APPEND_FLAGS, 0o600)
  } catch (err) {
    throw toWriteError(err, path)
  }
  try {
    // private whoever created it (older versions, a restore from backup)
    await fh.chmod(0o600).catch(() => {})
    const size = (await fh.stat()).size
    let goodEnd = size > 0 ? await lastLineEnd(fh, size) : 0
    let newlineMissing = false
    if (init.onLine !== undefined) {
      ;({ end: goodEnd, newlineMissing } = await scanLines(fh, size, init.onLine))
    } else if (goodEnd < size && size - goodEnd <= MAX_LINE_BYTES) {
      const buf = Buffer.alloc(size - goodEnd)
      await readFully(fh, buf, goodEnd)
      if (unsealLine(buf.toString('utf8'))?.sealed === true) {
        goodEnd = size
        newlineMissing = true
      }
    }
    let end = goodEnd
    try {
      if (newlineMissing) {
        await fh.write('\n')
        end = size + 1
        await fh.datasync()
      } else if (goodEnd < size) {
        await fh.truncate(goodEnd)
        await fh.datasync()
      }
    } catch (err) {
      throw toWriteError(err, path)
    }
    return { journal: new Journal(path, fh, end, init), repairedBytes: Math.max(0, size - end) }
  } catch (err) {
    await fh.close().catch(() => {})
    throw err
  }
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
async function scanLines(
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

/**
 * Replace a journal's file by `lines` (JSON texts, sealed here) atomically: temp file + fsync + rename +
 * fsync of the folder. Written in batches, so memory holds one batch, not the file.
 */
export async function rewriteJournal(path: string, lines: Iterable<string>): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.tmp`)
  try {
    const fh = await open(temp, 'w', 0o600)
    try {
      let batch: string[] = []
      let bytes = 0
      for (const line of lines) {
        const sealed = sealLine(line)
        batch.push(sealed)
        bytes += sealed.length
        if (bytes >= READ_CHUNK) {
          await fh.write(batch.join('\n') + '\n')
          batch = []
          bytes = 0
        }
      }
      if (batch.length > 0) await fh.write(batch.join('\n') + '\n')
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(temp, path)
    await syncDir(dirname(path))
  } catch (err) {
    throw toWriteError(err, path)
  }
}

/** fsync a folder so a rename or a new file in it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } catch {
    // some file systems refuse fsync on a directory; the rename itself is still atomic
  } finally {
    await fh.close()
  }
}

async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0
  while (off < buf.length) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, position + off)
    if (bytesRead === 0) break
    off += bytesRead
  }
}

/** Offset just past the last newline at or before `size` (0 if none). */
async function lastLineEnd(fh: FileHandle, size: number): Promise<number> {
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

async function* readLinesBackward(fh: FileHandle, end: number): AsyncGenerator<JournalLine> {
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
