/**
 * Tallies in tallies.jsonl: one record per line (sealed with a checksum by the journal), the last line
 * of a tallyId wins. A change is one appended line, fdatasync'ed (group commit) before the caller goes
 * on, so a tally the protocol has announced is on disk. At open the file is streamed into a Map (memory
 * follows the live tallies, not the file) and compacted (temp + fsync + rename) once superseded lines
 * outnumber the live ones.
 *
 * Only a confirmed tally keeps the counterparty's identity, cadre and database credentials on disk and,
 * once ended, in memory: an inbound draft's line is small (a crash turns every inbound draft of a past
 * run into an abandoned one, which needs none of them), and an abandoned tally is kept small for good, so
 * an attempt that ends abandoned costs a few hundred bytes however large the bundle it carried. An
 * outbound draft or pending tally (this node dialled) is kept whole: after a crash it becomes `pending`,
 * and if the other party's verdict is `confirmed` it needs its cadre and database credentials.
 *
 * A confirmed tally is never downgraded: put() refuses it (TallyDowngradeError), and a later line that
 * says otherwise is ignored when reading. Any damaged line stops the open (JournalCorruptError, file
 * untouched): silently dropping it could hand a confirmed tally's place back to its older draft.
 */
import type { TallyStatus, TallyView } from '../views/console-views.ts'
import type { DbConnectionInfo, DraftTally, IdentityBundle } from '../bootstrap/types.ts'
import { JournalCorruptError, StoreInputError, TallyDowngradeError } from './errors.ts'
import { openJournal, rewriteJournal } from './journal.ts'
import type { Journal, ScannedLine } from './journal.ts'

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

/** Fields a customer may give unasked that we keep: what the console names a counterparty by. */
const VOLUNTEERED_FIELDS: readonly string[] = ['name', 'email']
/** The most of a volunteered field we keep (a token's requested fields keep the wire's 1 KiB). */
const VOLUNTEERED_MAX_VALUE = 256

/**
 * What we keep of a customer's identity bundle under a token that asked for `requested`: those fields,
 * and a name and an email given unasked (each cut to 256 characters); nothing else, so a stranger on a
 * public QR cannot have its node store, show and export kilobytes of text it never asked for per tally.
 */
export function keptIdentity(bundle: unknown, requested: readonly string[]): IdentityBundle | undefined {
  const bounded = boundedIdentity(bundle)
  if (bounded === undefined) return undefined
  const kept: Array<[string, string]> = []
  for (const [field, value] of Object.entries(bounded)) {
    if (requested.includes(field)) kept.push([field, value])
    else if (VOLUNTEERED_FIELDS.includes(field)) kept.push([field, value.slice(0, VOLUNTEERED_MAX_VALUE)])
  }
  return kept.length === 0 ? undefined : Object.fromEntries(kept)
}

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

const STATUSES: readonly TallyStatus[] = ['draft', 'pending', 'confirmed', 'abandoned']

/** The durable tally table of one store. */
export class TallyBook {
  #journal: Journal
  #tallies: Map<string, TallyRecord>
  /** tallyIds being written for the first time, so two concurrent records cannot both claim one. */
  #claimed = new Set<string>()
  /** tallyIds held in memory only: their first line is their settlement (hold()). */
  #held = new Set<string>()
  #failing = false

  private constructor(journal: Journal, tallies: Map<string, TallyRecord>) {
    this.#journal = journal
    this.#tallies = tallies
  }

  /** Open tallies.jsonl at `path`, repairing a torn tail and compacting when worthwhile. */
  static async open(path: string): Promise<TallyBook> {
    const tallies = new Map<string, TallyRecord>()
    let lines = 0
    let sealedSeen = false
    let downgrades = 0
    const onLine = (line: ScannedLine): void => {
      if (line.damaged) throw new JournalCorruptError(path, line.number, 'checksum mismatch')
      // lines without a checksum come from before checksums, so only ahead of every sealed one
      if (line.sealed) sealedSeen = true
      else if (sealedSeen)
        throw new JournalCorruptError(path, line.number, 'no checksum on a line after checksummed ones')
      const record = parseRecord(line.text)
      if (record === undefined) throw new JournalCorruptError(path, line.number, 'not a tally record')
      lines++
      if (tallies.get(record.tallyId)?.status === 'confirmed' && record.status !== 'confirmed') {
        downgrades++
        return
      }
      // delete first so Map order follows the latest change, newest last
      tallies.delete(record.tallyId)
      tallies.set(record.tallyId, stored(record))
    }
    let { journal } = await openJournal(path, { onLine })
    const superseded = lines - tallies.size
    // a downgrade line is kept as evidence (doctor reports it); no compaction then
    if (downgrades === 0 && superseded >= COMPACT_MIN_SUPERSEDED && superseded >= tallies.size) {
      await journal.close()
      const ordered = [...tallies.values()].sort((a, b) => a.createdAt - b.createdAt)
      await rewriteJournal(path, jsonLines(ordered))
      ;({ journal } = await openJournal(path))
    }
    const book = new TallyBook(journal, tallies)
    book.ignoredDowngrades = downgrades
    return book
  }

  /** Lines read at open that would have downgraded a confirmed tally (ignored). */
  ignoredDowngrades = 0

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

  /**
   * Keep a new record in memory only, listed like any other: its first line on disk is the next put() of
   * it. Refuses an id already known. A crash forgets it, which is what a listener's draft may be: the
   * dialer was told nothing yet that a record of ours must back.
   */
  hold(record: TallyRecord): void {
    if (this.has(record.tallyId)) throw new StoreInputError('tally id already recorded')
    this.#tallies.set(record.tallyId, record)
    this.#held.add(record.tallyId)
  }

  /** The ids of the records held in memory only. */
  heldIds(): string[] {
    return [...this.#held]
  }

  /** Forget a record held in memory only (what a crash would do); a record with a line on disk stays. */
  forgetHeld(tallyId: string): void {
    if (this.#held.delete(tallyId)) this.#tallies.delete(tallyId)
  }

  /** The last write of the journal failed (and none has succeeded since). */
  get failing(): boolean {
    return this.#failing
  }

  /** Whether `tallyId` is held in memory only (no line of it on disk yet). */
  isHeld(tallyId: string): boolean {
    return this.#held.has(tallyId)
  }

  /** Write records durably, then apply them in memory. Throws StoreWriteError and applies nothing on failure. */
  async put(records: TallyRecord[]): Promise<void> {
    for (const r of records) {
      if (this.#tallies.get(r.tallyId)?.status === 'confirmed' && r.status !== 'confirmed')
        throw new TallyDowngradeError(r.tallyId)
    }
    const fresh = records.filter((r) => !this.#tallies.has(r.tallyId))
    for (const r of fresh) this.#claimed.add(r.tallyId)
    try {
      await this.#journal.append(records.map((r) => JSON.stringify(stored(r))))
      this.#failing = false
    } catch (err) {
      this.#failing = true
      throw err
    } finally {
      for (const r of fresh) this.#claimed.delete(r.tallyId)
    }
    // a draft of this run keeps its full record in memory: confirming it writes everything
    for (const r of records) {
      this.#tallies.set(r.tallyId, r.status === 'abandoned' ? slim(r) : r)
      this.#held.delete(r.tallyId)
    }
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

/**
 * What is kept of a record on disk: all of a confirmed one, and of an outbound one still waiting for its
 * verdict (it may yet be confirmed); the slim form of the rest.
 */
function stored(r: TallyRecord): TallyRecord {
  if (r.status === 'confirmed') return r
  if (r.direction === 'outbound' && (r.status === 'draft' || r.status === 'pending')) return r
  return slim(r)
}

/** A record without the counterparty's identity and cadre and without database credentials. */
export function slim(r: TallyRecord): TallyRecord {
  const out: TallyRecord = { ...r, dbConnectionInfo: { nodes: [], credentials: '' } }
  delete out.counterpartyIdentity
  delete out.counterpartyCadre
  return out
}

function* jsonLines(records: TallyRecord[]): Generator<string> {
  for (const r of records) yield JSON.stringify(r)
}

/** A tally record parsed from a journal line's JSON text; undefined when it is not one. */
export function parseRecord(line: string): TallyRecord | undefined {
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
