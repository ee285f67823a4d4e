/**
 * DIR/tallydb/index.jsonl: which document holds which tally, who the counterparty is, and whether this node
 * serves it (provisioner) or opens it from the provisioner (opener). Append-only, checksummed and
 * fdatasync'ed like the store's journals; the last line of a tallyId wins. The provisioner keeps no grant
 * (it re-derives it); the opener keeps the grant it was given sealed under its node secret.
 */
import { openJournal } from '../store/journal.ts'
import type { Journal, ScannedLine } from '../store/journal.ts'
import { JournalCorruptError } from '../store/errors.ts'
import { firstStateBytes, isFirstSeed } from './first-state.ts'
import type { FirstSeed } from './first-state.ts'

/** One tally's document as this node knows it. */
export interface IndexEntry {
  tallyId: string
  documentId: string
  counterpartyPeerId: string
  /** True: this node created the document and serves it; false: it opens it from the counterparty. */
  provisioner: boolean
  /** Opener: the provisioner's multiaddrs. */
  nodes?: string[]
  /** Opener: the grant, sealed (grant.ts sealGrant). */
  sealedGrant?: string
  /** Provisioner: the grant no longer opens the document. */
  revoked?: boolean
  /**
   * The document's first state as handed over (Automerge bytes, base64; an opener at a provisioner before
   * 1.3.0), written with this entry: a new tally costs one durable write. The storage shows it as a chunk
   * (journal-storage.ts).
   */
  doc?: string
  /** The document's first state as derived (first-state.ts): what it is made from, shown the same way. */
  first?: FirstSeed
  createdAt: number
}

/** The durable tallyId → document table. */
export class TallyIndex {
  readonly #journal: Journal
  readonly #entries: Map<string, IndexEntry>
  readonly #byDocument = new Map<string, string>()
  /** tallyIds by counterparty PeerId: a connection's events look up its own tallies, not every tally. */
  readonly #byCounterparty = new Map<string, Set<string>>()

  private constructor(journal: Journal, entries: Map<string, IndexEntry>) {
    this.#journal = journal
    this.#entries = entries
    for (const e of entries.values()) this.#indexed(e)
  }

  /** Open (creating) the index at `path`. */
  static async open(path: string): Promise<TallyIndex> {
    const entries = new Map<string, IndexEntry>()
    const onLine = (line: ScannedLine): void => {
      if (line.damaged) throw new JournalCorruptError(path, line.number, 'checksum mismatch')
      const entry = parseEntry(line.text)
      if (entry === undefined) throw new JournalCorruptError(path, line.number, 'not a tally index entry')
      entries.set(entry.tallyId, entry)
    }
    const { journal } = await openJournal(path, { onLine })
    return new TallyIndex(journal, entries)
  }

  get(tallyId: string): IndexEntry | undefined {
    return this.#entries.get(tallyId)
  }

  /** The first state of `documentId` kept in its entry (its bytes, or made from its seed), if any. */
  firstState(documentId: string): Uint8Array | undefined {
    const tallyId = this.#byDocument.get(documentId)
    const entry = tallyId === undefined ? undefined : this.#entries.get(tallyId)
    if (entry?.first !== undefined) return firstStateBytes(entry.first)
    return entry?.doc === undefined ? undefined : new Uint8Array(Buffer.from(entry.doc, 'base64'))
  }

  /** The tallyId whose document is `documentId`. */
  tallyOf(documentId: string): string | undefined {
    return this.#byDocument.get(documentId)
  }

  values(): IterableIterator<IndexEntry> {
    return this.#entries.values()
  }

  /** Every entry whose counterparty is `peer`. */
  withCounterparty(peer: string): IndexEntry[] {
    return [...(this.#byCounterparty.get(peer) ?? [])].map((id) => this.#entries.get(id)!)
  }

  /** The entries this node opened (not provisioned): all, or those provisioned by `peer`. */
  opened(peer?: string): IndexEntry[] {
    const entries = peer === undefined ? [...this.#entries.values()] : this.withCounterparty(peer)
    return entries.filter((e) => !e.provisioner)
  }

  get size(): number {
    return this.#entries.size
  }

  /** Write an entry durably, then apply it. */
  async put(entry: IndexEntry): Promise<void> {
    await this.#journal.append([JSON.stringify(entry)])
    this.#entries.set(entry.tallyId, entry)
    this.#indexed(entry)
  }

  #indexed(entry: IndexEntry): void {
    this.#byDocument.set(entry.documentId, entry.tallyId)
    let ids = this.#byCounterparty.get(entry.counterpartyPeerId)
    if (ids === undefined) this.#byCounterparty.set(entry.counterpartyPeerId, (ids = new Set()))
    ids.add(entry.tallyId)
  }

  async close(): Promise<void> {
    await this.#journal.close()
  }
}

function parseEntry(text: string): IndexEntry | undefined {
  try {
    const e = JSON.parse(text) as Partial<IndexEntry> | null
    if (
      e === null ||
      typeof e !== 'object' ||
      typeof e.tallyId !== 'string' ||
      typeof e.documentId !== 'string' ||
      typeof e.counterpartyPeerId !== 'string' ||
      typeof e.provisioner !== 'boolean' ||
      typeof e.createdAt !== 'number' ||
      (e.doc !== undefined && typeof e.doc !== 'string') ||
      (e.first !== undefined && !isFirstSeed(e.first))
    )
      return undefined
    return e as IndexEntry
  } catch {
    return undefined
  }
}
