/**
 * automerge-repo storage in one append-only journal (DIR/tallydb/chunks.jsonl): each save or removal is one
 * checksummed line, fdatasync'ed with group commit (the store's journal), so a document is on disk when
 * flush() returns, at the cost of one write per batch instead of a folder, a file and no fsync per chunk
 * (the Node file-system adapter). Every chunk is held in memory (a tally's document is a few KB); the
 * journal is compacted at open once superseded lines outnumber the live ones.
 */
import type { Chunk, StorageAdapterInterface, StorageKey } from '@automerge/automerge-repo/slim'
import { JournalCorruptError } from '../store/errors.ts'
import { openJournal, rewriteJournal } from '../store/journal.ts'
import type { Journal, ScannedLine } from '../store/journal.ts'

/** Superseded lines tolerated before a compaction at open. */
const COMPACT_MIN_SUPERSEDED = 1000
const SEP = '\u0000'

interface Line {
  /** The key. */
  k: StorageKey
  /** The data, base64; absent: the key was removed. */
  d?: string
}

/** A StorageAdapterInterface over one journal file. Open with JournalStorageAdapter.open. */
export class JournalStorageAdapter implements StorageAdapterInterface {
  readonly #journal: Journal
  readonly #chunks: Map<string, { key: StorageKey; data: Uint8Array }>

  private constructor(journal: Journal, chunks: Map<string, { key: StorageKey; data: Uint8Array }>) {
    this.#journal = journal
    this.#chunks = chunks
  }

  /** Open (creating) the journal at `path` and read every chunk. */
  static async open(path: string): Promise<JournalStorageAdapter> {
    const chunks = new Map<string, { key: StorageKey; data: Uint8Array }>()
    let lines = 0
    const onLine = (line: ScannedLine): void => {
      if (line.damaged) throw new JournalCorruptError(path, line.number, 'checksum mismatch')
      const parsed = parseLine(line.text)
      if (parsed === undefined) throw new JournalCorruptError(path, line.number, 'not a storage line')
      lines++
      const id = parsed.k.join(SEP)
      if (parsed.d === undefined) chunks.delete(id)
      else chunks.set(id, { key: parsed.k, data: new Uint8Array(Buffer.from(parsed.d, 'base64')) })
    }
    let { journal } = await openJournal(path, { onLine })
    const superseded = lines - chunks.size
    if (superseded >= COMPACT_MIN_SUPERSEDED && superseded >= chunks.size) {
      await journal.close()
      await rewriteJournal(
        path,
        [...chunks.values()].map((c) => lineOf(c.key, c.data))
      )
      ;({ journal } = await openJournal(path))
    }
    return new JournalStorageAdapter(journal, chunks)
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#chunks.get(key.join(SEP))?.data
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    const copy = new Uint8Array(data)
    this.#chunks.set(key.join(SEP), { key: [...key], data: copy })
    await this.#journal.append([lineOf(key, copy)])
  }

  async remove(key: StorageKey): Promise<void> {
    if (!this.#chunks.delete(key.join(SEP))) return
    await this.#journal.append([JSON.stringify({ k: key } satisfies Line)])
  }

  async loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    const out: Chunk[] = []
    for (const [id, c] of this.#chunks) if (matches(id, keyPrefix)) out.push({ key: c.key, data: c.data })
    return out
  }

  async removeRange(keyPrefix: StorageKey): Promise<void> {
    const gone: string[] = []
    for (const [id, c] of this.#chunks) {
      if (!matches(id, keyPrefix)) continue
      this.#chunks.delete(id)
      gone.push(JSON.stringify({ k: c.key } satisfies Line))
    }
    await this.#journal.append(gone)
  }

  /** Write what is queued and close the file. */
  async close(): Promise<void> {
    await this.#journal.close()
  }
}

function matches(id: string, prefix: StorageKey): boolean {
  const p = prefix.join(SEP)
  return prefix.length === 0 || id === p || id.startsWith(p + SEP)
}

function lineOf(key: StorageKey, data: Uint8Array): string {
  return JSON.stringify({
    k: key,
    d: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')
  } satisfies Line)
}

function parseLine(text: string): Line | undefined {
  try {
    const v = JSON.parse(text) as Partial<Line> | null
    if (
      v === null ||
      typeof v !== 'object' ||
      !Array.isArray(v.k) ||
      !v.k.every((x) => typeof x === 'string')
    )
      return undefined
    if (v.d !== undefined && typeof v.d !== 'string') return undefined
    return v as Line
  } catch {
    return undefined
  }
}
