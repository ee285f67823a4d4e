/**
 * Tallies in tallies.jsonl: one full record per line, the last line of a tallyId wins. A change is one
 * appended line, fdatasync'ed (group commit) before the caller goes on, so a tally the protocol has
 * announced is on disk. At open the file is read into a Map, and compacted (temp + fsync + rename) once
 * superseded lines outnumber the live ones.
 */
import type { TallyStatus, TallyView } from '../../preload/contract.ts'
import type { DbConnectionInfo, DraftTally, IdentityBundle } from '../bootstrap/types.ts'
import { openJournal, rewriteJournal } from './journal.ts'
import type { Journal } from './journal.ts'

/** Superseded lines tolerated before a compaction at open. */
const COMPACT_MIN_SUPERSEDED = 1000

/** A tally as stored: the view's fields plus the protocol record and the (secret) connection info. */
export interface TallyRecord extends Omit<TallyView, 'counterpartyName'> {
  tally: DraftTally
  dbConnectionInfo: DbConnectionInfo
}

/** Bounds of the counterparty copy kept on a tally (the wire's own limits). */
const IDENTITY_MAX_FIELDS = 16
const IDENTITY_MAX_KEY = 64
const IDENTITY_MAX_VALUE = 1024
const CADRE_MAX_ADDRS = 16
const CADRE_MAX_ADDR = 512

/** A bounded copy of an identity bundle: string fields within the wire's limits; undefined when none. */
export function boundedIdentity(bundle: unknown): IdentityBundle | undefined {
  if (bundle === null || typeof bundle !== 'object' || Array.isArray(bundle)) return undefined
  const entries = Object.entries(bundle as Record<string, unknown>)
    .filter(
      (e): e is [string, string] =>
        e[0].length > 0 &&
        e[0].length <= IDENTITY_MAX_KEY &&
        typeof e[1] === 'string' &&
        e[1].length <= IDENTITY_MAX_VALUE
    )
    .slice(0, IDENTITY_MAX_FIELDS)
  // fromEntries defines own properties, so a `__proto__` field stays data and never a prototype
  return entries.length === 0 ? undefined : Object.fromEntries(entries)
}

/** A bounded copy of a cadre address list; undefined when it is not a list. */
export function boundedCadre(addrs: unknown): string[] | undefined {
  if (!Array.isArray(addrs)) return undefined
  return addrs
    .filter((a): a is string => typeof a === 'string' && a.length > 0 && a.length <= CADRE_MAX_ADDR)
    .slice(0, CADRE_MAX_ADDRS)
}

/** The name to show for a counterparty: its identity `name`, else its `email`. */
export function counterpartyName(identity: IdentityBundle | undefined): string | undefined {
  if (identity === undefined) return undefined
  for (const field of ['name', 'email']) {
    const value = Object.hasOwn(identity, field) ? identity[field]?.trim() : undefined
    if (value !== undefined && value !== '') return value
  }
  return undefined
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
  if (r.counterpartyIdentity !== undefined) {
    view.counterpartyIdentity = { ...r.counterpartyIdentity }
    const name = counterpartyName(r.counterpartyIdentity)
    if (name !== undefined) view.counterpartyName = name
  }
  if (r.counterpartyCadre !== undefined) view.counterpartyCadre = [...r.counterpartyCadre]
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
    const record = r as TallyRecord & { counterpartyName?: unknown }
    // optional since the counterparty was first recorded: older lines lack them, a bad one is dropped
    delete record.counterpartyName
    if (record.counterpartyIdentity !== undefined) {
      const identity = boundedIdentity(record.counterpartyIdentity)
      if (identity === undefined) delete record.counterpartyIdentity
      else record.counterpartyIdentity = identity
    }
    if (record.counterpartyCadre !== undefined) {
      const cadre = boundedCadre(record.counterpartyCadre)
      if (cadre === undefined) delete record.counterpartyCadre
      else record.counterpartyCadre = cadre
    }
    return record
  } catch {
    return undefined
  }
}
