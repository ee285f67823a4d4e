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
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { StoreClosedError, toWriteError } from './errors.ts'
import { MAX_LINE_BYTES, sealLine, unsealLine } from './journal-seal.ts'
import type { ScannedLine } from './journal-seal.ts'
import { lastLineEnd, readFully, readLinesBackward, scanLines } from './journal-scan.ts'
import type { JournalLine } from './journal-scan.ts'

// the journal's path stays the one import for readers, scanners and rewriters of its files
export { MAX_LINE_BYTES, sealLine, unsealLine }
export type { ScannedLine, JournalLine }
export { scanJournal } from './journal-scan.ts'
export { rewriteJournal, syncDir } from './journal-rewrite.ts'

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
