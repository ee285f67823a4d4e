/**
 * Telling "the database cannot be reached or will not write now" (load or an outage: the customer may try
 * again, `busy`) from a fault of ours (a bad statement: `internal-error`), and the settlements a node
 * could not write during an outage, written once the database is back.
 */
import { RejectedError } from '../../bootstrap/errors.ts'

/** Socket errors of a server that is gone or unreachable. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN'
])

/** What node-postgres says (without a code) when it lost, or could not get, a connection. */
const DRIVER_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|connection error|Client was closed/

/**
 * True when `err` means the cadre's database is unavailable rather than that we asked something wrong:
 * SQLSTATE class 08 (connection), 53 (insufficient resources: disk full, out of memory, too many
 * connections), 57P (server shutting down or starting), 57014 (statement timeout), 25006 (read-only, a
 * standby), or a socket or pool error of the driver.
 */
export function isUnavailable(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false
  const { code, message } = err as { code?: unknown; message?: unknown }
  if (typeof code === 'string') {
    if (/^(08|53|57P)/.test(code) || code === '57014' || code === '25006') return true
    if (SOCKET_CODES.has(code)) return true
  }
  return typeof message === 'string' && DRIVER_MESSAGES.test(message)
}

/** Rethrows `err`, as RejectedError `busy` when the database is unavailable (the session ends cleanly). */
export function busyWhenUnavailable(err: unknown): never {
  if (isUnavailable(err)) throw new RejectedError('busy', 'the cadre database is unavailable', { cause: err })
  throw err
}

/**
 * Abandonments a node could not write (the database was away when its session failed): retried every
 * `retryMs` until written or the store closes, so no draft of a failed session outlives the outage.
 */
export class DeferredSettlements {
  #pending = new Set<string>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #settle: (tallyId: string) => Promise<unknown>
  #retryMs: number
  #closed = false

  constructor(settle: (tallyId: string) => Promise<unknown>, retryMs = 1000) {
    this.#settle = settle
    this.#retryMs = retryMs
  }

  /** How many are waiting for the database. */
  get size(): number {
    return this.#pending.size
  }

  /** Abandon `tallyId` as soon as the database takes it. */
  add(tallyId: string): void {
    if (this.#closed) return
    this.#pending.add(tallyId)
    this.#schedule()
  }

  /** Try the waiting ones once more now (close does, so a clean stop leaves none behind if it can). */
  async retry(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (const id of [...this.#pending]) {
      try {
        await this.#settle(id)
        this.#pending.delete(id)
      } catch {
        // still away: the next round
      }
    }
    if (this.#pending.size > 0) this.#schedule()
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return
    this.#timer = setTimeout(() => void this.retry(), this.#retryMs)
    this.#timer.unref()
  }
}
