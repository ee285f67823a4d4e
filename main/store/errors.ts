/**
 * Failures of the merchant store. Each has its own `name`; none carries a token, link or credential,
 * only paths and error codes.
 */
import { dirname } from 'node:path'

/** Another store (this process or another) already owns the data folder. */
export class StoreLockedError extends Error {
  override name = 'StoreLockedError'
  constructor(
    readonly path: string,
    readonly pid?: number,
    options?: ErrorOptions
  ) {
    super(
      `data folder is in use by ${pid === undefined ? 'another store' : `process ${pid}`} (lock file ${path}); ` +
        'stop that process, or remove the lock file if it is gone',
      options
    )
  }
}

/** What kind of write failure it was, in words a person can act on. */
export type StoreWriteFailure = 'read-only' | 'disk-full' | 'io'

/** A write to the data folder failed; the data already on disk is left valid. */
export class StoreWriteError extends Error {
  override name = 'StoreWriteError'
  constructor(
    readonly path: string,
    readonly kind: StoreWriteFailure,
    readonly code: string | undefined,
    options?: ErrorOptions
  ) {
    super(`cannot write ${path}: ${describeFailure(kind, code)}; data on disk is unchanged`, options)
  }
}

/** A store file exists but cannot be read back (not a torn tail: that is repaired silently). */
export class StoreCorruptError extends Error {
  override name = 'StoreCorruptError'
  constructor(
    readonly path: string,
    detail: string,
    options?: ErrorOptions
  ) {
    super(`cannot read ${path}: ${detail}`, options)
  }
}

/** Free space on the data folder's disk is under the reserve: nothing new is added until some is freed. */
export class StoreFullError extends Error {
  override name = 'StoreFullError'
  constructor(
    readonly path: string,
    readonly freeBytes: number,
    readonly reserveBytes: number
  ) {
    super(
      `the disk holding ${path} has ${mib(freeBytes)} MiB free, under the reserve of ${mib(reserveBytes)} MiB ` +
        'kept for tallies and restarts; free some space (or move the data folder) and try again'
    )
  }
}

function mib(bytes: number): string {
  return (Math.max(0, bytes) / (1024 * 1024)).toFixed(1)
}

/**
 * A journal line other than a torn last one is damaged (checksum mismatch, not a record, out of order):
 * the store does not start and leaves the file as it is, for `taleus doctor` to report and repair.
 */
export class JournalCorruptError extends Error {
  override name = 'JournalCorruptError'
  constructor(
    readonly path: string,
    readonly line: number,
    readonly detail: string
  ) {
    super(
      `${path} line ${line} is damaged (${detail}); the file is left as it is: ` +
        `run "taleus doctor --data-dir ${dirname(path)}" to see the damage and repair it with a backup`
    )
  }
}

/** A confirmed tally was about to be recorded again as draft or abandoned: refused, a confirmation stands. */
export class TallyDowngradeError extends Error {
  override name = 'TallyDowngradeError'
  constructor(readonly tallyId: string) {
    super(`tally ${tallyId} is confirmed and cannot become draft or abandoned`)
  }
}

/**
 * The data folder or database was written by a newer Taleus: refused whole, since this version would
 * not see what the newer one keeps where this one does not look (and a repair could drop it).
 */
export class StoreNewerError extends Error {
  override name = 'StoreNewerError'
  constructor(
    readonly where: string,
    readonly found: number,
    readonly known: number
  ) {
    super(
      `${where} was written by a newer Taleus (data format ${found}; this version reads up to ${known}): ` +
        'update Taleus to open it'
    )
  }
}

/** The store was used after close(). */
export class StoreClosedError extends Error {
  override name = 'StoreClosedError'
  constructor(message = 'the store is closed') {
    super(message)
  }
}

/** createToken (or another call) got an input outside the contract. */
export class StoreInputError extends Error {
  override name = 'StoreInputError'
}

/** No token with that id. */
export class UnknownTokenError extends Error {
  override name = 'UnknownTokenError'
  constructor(readonly tokenId: string) {
    super(`no token with id ${tokenId}`)
  }
}

function describeFailure(kind: StoreWriteFailure, code: string | undefined): string {
  if (kind === 'read-only') return `the folder is read-only or not writable (${code ?? 'EACCES'})`
  if (kind === 'disk-full') return `disk full (${code ?? 'ENOSPC'})`
  return `I/O error (${code ?? 'unknown'})`
}

/** Wrap a Node fs error into a StoreWriteError that says what went wrong with which file. */
export function toWriteError(err: unknown, path: string): StoreWriteError {
  if (err instanceof StoreWriteError) return err
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  const kind: StoreWriteFailure =
    code === 'EROFS' || code === 'EACCES' || code === 'EPERM'
      ? 'read-only'
      : code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG'
        ? 'disk-full'
        : 'io'
  return new StoreWriteError(path, kind, code, { cause: err })
}
