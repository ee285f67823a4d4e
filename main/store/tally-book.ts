/**
 * Tallies in tallies.jsonl: one full record per line, the last line of a tallyId wins. A change is one
 * appended line, fdatasync'ed (group commit) before the caller goes on, so a tally the protocol has
 * announced is on disk. At open the file is read into a Map, and compacted (temp + fsync + rename) once
 * superseded lines outnumber the live ones.
 */
import type { TallyStatus, TallyView } from '../../preload/contract.ts'
import type { DbConnectionInfo, DraftTally } from '../bootstrap/types.ts'
import { openJournal, rewriteJournal } from './journal.ts'
import type { Journal } from './journal.ts'

/** Superseded lines tolerated before a compaction at open. */
const COMPACT_MIN_SUPERSEDED = 1000

/** A tally as stored: the view's fields plus the protocol record and the (secret) connection info. */
export interface TallyRecord extends TallyView {
  tally: DraftTally
  dbConnectionInfo: DbConnectionInfo
}

const STATUSES: readonly TallyStatus[] = ['draft', 'confirmed', 'abandoned']

/** The durable tally table of one store. */
export class TallyBook {
  #journal: Journal
  #tallies: Map<string, TallyRecord>
  /** tallyIds being written for the first time, so two concurrent records cannot both claim one. */
  #claimed = new Set<string>()

  private constructor(journal: Journal, tallies: Map<string, TallyRecord>) {
    this.#journal = journal
    this.#tallies = tallies
  }

  /** Open tallies.jsonl at `path`, repairing a torn tail and compacting when worthwhile. */
  static async open(path: string): Promise<TallyBook> {
    const opened = await openJournal(path, { readAll: true })
    const { lines } = opened
    let { journal } = opened
    const tallies = new Map<string, TallyRecord>()
    let invalid = 0
    for (const line of lines) {
      const record = parseRecord(line)
      if (record === undefined) {
        invalid++
        continue
      }
      // delete first so Map order follows the latest change, newest last
      tallies.delete(record.tallyId)
      tallies.set(record.tallyId, record)
    }
    const superseded = lines.length - tallies.size
    if (invalid > 0 || (superseded >= COMPACT_MIN_SUPERSEDED && superseded >= tallies.size)) {
      await journal.close()
      const ordered = [...tallies.values()].sort((a, b) => a.createdAt - b.createdAt)
      await rewriteJournal(
        path,
        ordered.map((r) => JSON.stringify(r))
      )
      ;({ journal } = await openJournal(path))
    }
    return new TallyBook(journal, tallies)
  }

  get(tallyId: string): TallyRecord | undefined {
    return this.#tallies.get(tallyId)
  }

  has(tallyId: string): boolean {
    return this.#tallies.has(tallyId) || this.#claimed.has(tallyId)
  }

  /** Every record, in no promised order. */
  values(): IterableIterator<TallyRecord> {
    return this.#tallies.values()
  }

  get size(): number {
    return this.#tallies.size
  }

  /** Write records durably, then apply them in memory. Throws StoreWriteError and applies nothing on failure. */
  async put(records: TallyRecord[]): Promise<void> {
    const fresh = records.filter((r) => !this.#tallies.has(r.tallyId))
    for (const r of fresh) this.#claimed.add(r.tallyId)
    try {
      await this.#journal.append(records.map((r) => JSON.stringify(r)))
    } finally {
      for (const r of fresh) this.#claimed.delete(r.tallyId)
    }
    for (const r of records) this.#tallies.set(r.tallyId, r)
  }

  /** Flush and close the file. */
  async close(): Promise<void> {
    await this.#journal.close()
  }
}

/** The listing fields of a record (no tally body, no credentials). */
export function tallyView(r: TallyRecord): TallyView {
  const view: TallyView = {
    tallyId: r.tallyId,
    role: r.role,
    direction: r.direction,
    status: r.status,
    counterpartyPeerId: r.counterpartyPeerId,
    localPeerId: r.localPeerId,
    sessionId: r.sessionId,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt
  }
  if (r.tokenId !== undefined) view.tokenId = r.tokenId
  if (r.tokenLabel !== undefined) view.tokenLabel = r.tokenLabel
  return view
}

function parseRecord(line: string): TallyRecord | undefined {
  try {
    const r = JSON.parse(line) as Partial<TallyRecord> | null
    if (
      r === null ||
      typeof r !== 'object' ||
      typeof r.tallyId !== 'string' ||
      (r.role !== 'stock' && r.role !== 'foil') ||
      (r.direction !== 'inbound' && r.direction !== 'outbound') ||
      !STATUSES.includes(r.status as TallyStatus) ||
      typeof r.createdAt !== 'number' ||
      typeof r.updatedAt !== 'number' ||
      typeof r.tally !== 'object' ||
      typeof r.dbConnectionInfo !== 'object'
    ) {
      return undefined
    }
    return r as TallyRecord
  } catch {
    return undefined
  }
}
