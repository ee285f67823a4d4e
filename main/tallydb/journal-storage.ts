/**
 * automerge-repo storage in one append-only journal (DIR/tallydb/chunks.jsonl): each save or removal is one
 * checksummed line, fdatasync'ed with group commit (the store's journal), so a document is on disk when
 * flush() returns, at the cost of one write per batch instead of a folder, a file and no fsync per chunk
 * (the Node file-system adapter). Every chunk is held in memory (a tally's document is a few KB); the
 * journal is compacted at open once superseded lines outnumber the live ones.
 *
 * A document's first state may live elsewhere (`firstStates`: the tally index entry written with it, so a
 * new tally costs one durable write, not two): it shows as the chunk [documentId, 'incremental', 'first']
 * until automerge-repo removes that key (a compaction), which is kept as a removal line.
 */
import type { Chunk, StorageAdapterInterface, StorageKey } from '@automerge/automerge-repo/slim'
import { JournalCorruptError } from '../store/errors.ts'
import { openJournal, rewriteJournal } from '../store/journal.ts'
import type { Journal, ScannedLine } from '../store/journal.ts'

/** Superseded lines tolerated before a compaction at open. */
const COMPACT_MIN_SUPERSEDED = 1000
const SEP = '\u0000'
/** The last part of the key under which a document's first state shows. */
const FIRST = 'first'

/** A document's first state kept outside the journal, if any. */
export type FirstStates = (documentId: string) => Uint8Array | undefined

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
  readonly #firstStates: FirstStates
  /** First-state keys removed (by id): those documents' first states no longer show. */
  readonly #dropped: Map<string, StorageKey>

  private constructor(
    journal: Journal,
    chunks: Map<string, { key: StorageKey; data: Uint8Array }>,
    firstStates: FirstStates,
    dropped: Map<string, StorageKey>
  ) {
    this.#journal = journal
    this.#chunks = chunks
    this.#firstStates = firstStates
    this.#dropped = dropped
  }

  /** Open (creating) the journal at `path` and read every chunk. */
  static async open(
    path: string,
    firstStates: FirstStates = () => undefined
  ): Promise<JournalStorageAdapter> {
    const chunks = new Map<string, { key: StorageKey; data: Uint8Array }>()
    const dropped = new Map<string, StorageKey>()
    let lines = 0
    const onLine = (line: ScannedLine): void => {
      if (line.damaged) throw new JournalCorruptError(path, line.number, 'checksum mismatch')
      const parsed = parseLine(line.text)
      if (parsed === undefined) throw new JournalCorruptError(path, line.number, 'not a storage line')
      lines++
      const id = parsed.k.join(SEP)
      if (parsed.d === undefined) {
        chunks.delete(id)
        if (isFirstKey(parsed.k)) dropped.set(id, parsed.k)
      } else chunks.set(id, { key: parsed.k, data: new Uint8Array(Buffer.from(parsed.d, 'base64')) })
    }
    let { journal } = await openJournal(path, { onLine })
    const superseded = lines - chunks.size - dropped.size
    if (superseded >= COMPACT_MIN_SUPERSEDED && superseded >= chunks.size) {
      await journal.close()
      await rewriteJournal(path, [
        ...[...chunks.values()].map((c) => lineOf(c.key, c.data)),
        // a dropped first state stays dropped: its removal is kept
        ...[...dropped.values()].map((k) => JSON.stringify({ k } satisfies Line))
      ])
      ;({ journal } = await openJournal(path))
    }
    return new JournalStorageAdapter(journal, chunks, firstStates, dropped)
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    const chunk = this.#chunks.get(key.join(SEP))
    if (chunk !== undefined || !isFirstKey(key)) return chunk?.data
    return this.#first(key[0]!)?.data
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    const copy = new Uint8Array(data)
    this.#chunks.set(key.join(SEP), { key: [...key], data: copy })
    await this.#journal.append([lineOf(key, copy)])
  }

  async remove(key: StorageKey): Promise<void> {
    const id = key.join(SEP)
    const first = isFirstKey(key) && this.#dropFirst(key[0]!) !== undefined
    if (!this.#chunks.delete(id) && !first) return
    await this.#journal.append([JSON.stringify({ k: key } satisfies Line)])
  }

  async loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    const out: Chunk[] = []
    for (const [id, c] of this.#chunks) if (matches(id, keyPrefix)) out.push({ key: c.key, data: c.data })
    const first = coversFirst(keyPrefix) ? this.#first(keyPrefix[0]!) : undefined
    if (first !== undefined && !this.#chunks.has(first.key.join(SEP))) out.push(first)
    return out
  }

  async removeRange(keyPrefix: StorageKey): Promise<void> {
    const gone: string[] = []
    for (const [id, c] of this.#chunks) {
      if (!matches(id, keyPrefix)) continue
      this.#chunks.delete(id)
      gone.push(JSON.stringify({ k: c.key } satisfies Line))
    }
    const first = coversFirst(keyPrefix) ? this.#dropFirst(keyPrefix[0]!) : undefined
    if (first !== undefined) gone.push(JSON.stringify({ k: first } satisfies Line))
    await this.#journal.append(gone)
  }

  /** Write what is queued and close the file. */
  async close(): Promise<void> {
    await this.#journal.close()
  }

  /** The first state of `documentId` as a chunk, unless there is none or it was removed. */
  #first(documentId: string): Chunk | undefined {
    const key = [documentId, 'incremental', FIRST]
    if (this.#dropped.has(key.join(SEP))) return undefined
    const data = this.#firstStates(documentId)
    return data === undefined ? undefined : { key, data }
  }

  /** Remove the first state of `documentId`; its key when there was one to remove. */
  #dropFirst(documentId: string): StorageKey | undefined {
    const first = this.#first(documentId)
    if (first === undefined) return undefined
    this.#dropped.set(first.key.join(SEP), first.key)
    return first.key
  }
}

function isFirstKey(key: StorageKey): boolean {
  return key.length === 3 && key[1] === 'incremental' && key[2] === FIRST
}

/** True when a range of `prefix` holds a document's first-state key (the document, its incrementals, or it). */
function coversFirst(prefix: StorageKey): boolean {
  return (
    (prefix.length === 1 || (prefix.length >= 2 && prefix[1] === 'incremental')) &&
    (prefix.length < 3 || isFirstKey(prefix))
  )
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
