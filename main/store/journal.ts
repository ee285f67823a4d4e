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
 */
import { constants } from 'node:fs'
import { open, rename } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { StoreClosedError, toWriteError } from './errors.ts'

const NEWLINE = 0x0a
const CHUNK = 64 * 1024

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
    const text = lines.join('\n') + '\n'
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

  /** Read whole lines backwards from `end` (default: the end), newest first. */
  async *readBackward(end = this.#size): AsyncGenerator<JournalLine> {
    yield* readLinesBackward(this.#fh, end)
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
  /** Every whole line, oldest first (only when `readAll`). */
  lines: string[]
  /** Bytes of a torn last line that were cut off. */
  repairedBytes: number
}

/** Open (creating if needed) a journal; cut off a torn last line left by a crash. */
export async function openJournal(
  path: string,
  init: JournalInit & { readAll?: boolean } = {}
): Promise<OpenedJournal> {
  let fh: FileHandle
  try {
    // O_APPEND: every write lands at the end, also after a truncate
    fh = await open(path, APPEND_FLAGS, 0o600)
  } catch (err) {
    throw toWriteError(err, path)
  }
  try {
    const size = (await fh.stat()).size
    let goodEnd = size
    let lines: string[] = []
    if (init.readAll === true) {
      const buf = Buffer.alloc(size)
      await readFully(fh, buf, 0)
      goodEnd = buf.lastIndexOf(NEWLINE) + 1
      lines = splitLines(buf.subarray(0, goodEnd))
    } else if (size > 0) {
      goodEnd = await lastLineEnd(fh, size)
    }
    if (goodEnd < size) {
      try {
        await fh.truncate(goodEnd)
        await fh.datasync()
      } catch (err) {
        throw toWriteError(err, path)
      }
    }
    return { journal: new Journal(path, fh, goodEnd, init), lines, repairedBytes: size - goodEnd }
  } catch (err) {
    await fh.close().catch(() => {})
    throw err
  }
}

/** Replace a journal's file by `lines` atomically: temp file + fsync + rename + fsync of the folder. */
export async function rewriteJournal(path: string, lines: string[]): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.tmp`)
  try {
    const fh = await open(temp, 'w', 0o600)
    try {
      if (lines.length > 0) await fh.writeFile(lines.join('\n') + '\n', 'utf8')
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

function splitLines(buf: Buffer): string[] {
  const out: string[] = []
  let start = 0
  for (;;) {
    const nl = buf.indexOf(NEWLINE, start)
    if (nl === -1) break
    if (nl > start) out.push(buf.toString('utf8', start, nl))
    start = nl + 1
  }
  return out
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
