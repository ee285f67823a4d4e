/**
 * How many rows an Automerge chunk's columns hold, read from their run-length encoding without
 * building them. Automerge's `decodeChange` builds every operation before anything can bound it, and a
 * column's run can claim millions of rows in four bytes: an outside reviewer's 69-byte change held a
 * merchant 44 s and took 3.9 GB (WebAssembly memory is never given back). The format is Automerge's
 * binary change chunk (automerge.org/docs/reference/binary-format): magic, checksum, type (1 change, 2
 * deflated change), length, then deps, actor, seq, start op, time, message, other actors, column
 * metadata (spec, length) and the columns.
 */
import { inflateRawSync } from 'node:zlib'

const MAGIC = [0x85, 0x6f, 0x4a, 0x83]
/** Column types (the spec's low three bits) whose rows are run-length or group encoded. */
const GROUP = 0
const ACTOR = 1
const ULEB = 2
const DELTA = 3
const BOOLEAN = 4
const STRING = 5
const VALUE_META = 6
const VALUE_RAW = 7
const DEFLATE_BIT = 0x08

type Inflate = (data: Uint8Array) => Uint8Array

/** A cursor over bytes; every read throws RangeError past the end. */
class Reader {
  pos = 0
  constructor(readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.bytes.length
  }

  byte(): number {
    if (this.pos >= this.bytes.length) throw new RangeError('past the end')
    return this.bytes[this.pos++]!
  }

  uleb(): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      const b = this.byte()
      result += (b & 0x7f) * scale
      if ((b & 0x80) === 0) return result
      scale *= 128
    }
    throw new RangeError('a number too long')
  }

  sleb(): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      const b = this.byte()
      result += (b & 0x7f) * scale
      scale *= 128
      if ((b & 0x80) === 0) return (b & 0x40) !== 0 ? result - scale : result
    }
    throw new RangeError('a number too long')
  }

  skip(n: number): void {
    if (n < 0 || this.pos + n > this.bytes.length) throw new RangeError('past the end')
    this.pos += n
  }

  take(n: number): Uint8Array {
    const start = this.pos
    this.skip(n)
    return this.bytes.subarray(start, this.pos)
  }
}

/**
 * The chunks `bytes` holds back to back (Automerge 3 sends several changes of one sync message as one
 * byte array: each must be judged, measured and decoded on its own), or why they cannot be read.
 */
export function splitChunks(bytes: Uint8Array): Uint8Array[] | string {
  try {
    const r = new Reader(bytes)
    const chunks: Uint8Array[] = []
    do {
      const start = r.pos
      for (const m of MAGIC) if (r.byte() !== m) return 'not an Automerge chunk'
      r.skip(5) // checksum and type
      r.skip(r.uleb())
      chunks.push(bytes.subarray(start, r.pos))
    } while (!r.done)
    return chunks
  } catch {
    return 'a chunk cut short'
  }
}

/**
 * How many bytes deflated chunks and columns may inflate to in all: each inflation is charged, so many
 * small columns of zeros cannot add up to gigabytes (an outside reviewer's 4 MB message took 17 s).
 */
export class InflateBudget {
  constructor(private left: number) {}

  /** `data` inflated, charged to this budget (and to `also`); RangeError once either is spent. */
  inflate(data: Uint8Array, also?: InflateBudget): Uint8Array {
    const most = Math.min(this.left, also?.left ?? Infinity)
    if (most <= 0) throw new RangeError('inflates past its budget')
    const out = inflateRawSync(data, { maxOutputLength: most })
    this.left -= out.byteLength
    if (also !== undefined) also.left -= out.byteLength
    return out
  }
}

/**
 * The rows the chunks in `bytes` (documents, changes, deflated changes) decode to, summed over the chunks
 * (each chunk counts its largest column: its operations), or why they cannot be read. `maxInflated`: how
 * many bytes its deflated changes and columns may inflate to in all; `shared`: a budget across calls (one
 * message's chunks).
 */
export function chunkRows(bytes: Uint8Array, maxInflated: number, shared?: InflateBudget): number | string {
  const budget = new InflateBudget(maxInflated)
  const inflate = (data: Uint8Array): Uint8Array => budget.inflate(data, shared)
  try {
    const r = new Reader(bytes)
    let total = 0
    do {
      for (const m of MAGIC) if (r.byte() !== m) return 'not an Automerge chunk'
      r.skip(4) // checksum: Automerge checks it
      const type = r.byte()
      const length = r.uleb()
      let body = r.take(length)
      if (type === 2) body = inflate(body)
      else if (type !== 0 && type !== 1) return 'not an Automerge chunk'
      const rows =
        type === 0 ? documentRows(new Reader(body), inflate) : changeRows(new Reader(body), inflate)
      total += rows
    } while (!r.done)
    return total
  } catch (err) {
    return err instanceof RangeError ? 'a chunk cut short or too large' : 'a chunk that does not read'
  }
}

/** A document chunk: actors, heads, the change columns' and the operation columns' metadata, their data. */
function documentRows(r: Reader, inflate: Inflate): number {
  const actors = r.uleb()
  for (let i = 0; i < actors; i++) r.skip(r.uleb())
  r.skip(r.uleb() * 32) // heads
  const changeColumns = columnsMeta(r)
  const opColumns = columnsMeta(r)
  return columnsRows(r, [...changeColumns, ...opColumns], inflate)
}

function changeRows(r: Reader, inflate: Inflate): number {
  const deps = r.uleb()
  r.skip(deps * 32)
  r.skip(r.uleb()) // actor
  r.uleb() // seq
  r.uleb() // start op
  r.sleb() // time
  r.skip(r.uleb()) // message
  const others = r.uleb()
  for (let i = 0; i < others; i++) r.skip(r.uleb())
  return columnsRows(r, columnsMeta(r), inflate)
}

function columnsMeta(r: Reader): Array<{ spec: number; length: number }> {
  const columns: Array<{ spec: number; length: number }> = []
  const count = r.uleb()
  for (let i = 0; i < count; i++) columns.push({ spec: r.uleb(), length: r.uleb() })
  return columns
}

/** The most rows of `columns`, whose data follow in order (deflated ones inflated, bounded). */
function columnsRows(r: Reader, columns: Array<{ spec: number; length: number }>, inflate: Inflate): number {
  let most = 0
  for (const c of columns) {
    let data = r.take(c.length)
    if ((c.spec & DEFLATE_BIT) !== 0) data = inflate(data)
    most = Math.max(most, columnRows(c.spec & 0x07, new Reader(data)))
  }
  return most
}

/** Rows of one column; for a group column, also the rows its groups hold (the larger). */
function columnRows(type: number, r: Reader): number {
  switch (type) {
    case ACTOR:
    case ULEB:
    case VALUE_META:
      return rleRows(r, () => r.uleb())
    case DELTA:
      return rleRows(r, () => r.sleb())
    case STRING:
      return rleRows(r, () => r.skip(r.uleb()))
    case GROUP: {
      // the group counts are run-length encoded too; their sum is the rows of the grouped columns
      let sum = 0
      const rows = rleRows(
        r,
        () => r.uleb(),
        (n, v) => (sum += n * v)
      )
      return Math.max(rows, sum)
    }
    case BOOLEAN: {
      let rows = 0
      while (!r.done) rows += r.uleb()
      return rows
    }
    case VALUE_RAW:
      return 0 // raw bytes: bounded by the chunk's own length
    default:
      return 0
  }
}

/**
 * Rows of a run-length column: runs of `n > 0` copies of one value, `n < 0` literal values, or `0`
 * followed by a count of nulls. `each(n, value)` sees every repeated run (group sums).
 */
function rleRows(r: Reader, value: () => number | void, each?: (n: number, v: number) => void): number {
  let rows = 0
  while (!r.done) {
    const n = r.sleb()
    if (n > 0) {
      const v = value()
      if (each !== undefined) each(n, typeof v === 'number' ? v : 0)
      rows += n
    } else if (n < 0) {
      for (let i = 0; i < -n; i++) {
        const v = value()
        if (each !== undefined) each(1, typeof v === 'number' ? v : 0)
      }
      rows += -n
    } else rows += r.uleb()
  }
  return rows
}
