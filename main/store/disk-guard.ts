/**
 * Free-space guard of the data folder: below a reserve, the store refuses new sessions (`busy`) and new
 * tokens (StoreFullError) and stops writing rejected contacts in full, while writes that keep existing
 * state consistent (settling a tally, revoking or counting a token, restart) still use the reserve. A
 * full disk then never costs a tally, a token or the ability to restart.
 *
 * Cheap on the session path: `low` reads a cached figure (refreshed with statfs when older than
 * `maxAgeMs`, in the background) lowered by every byte the store reports writing since.
 */
import { statfs as fsStatfs } from 'node:fs/promises'

/** Default free bytes kept in reserve (capped at a quarter of a small volume). */
export const DISK_RESERVE_BYTES = 64 * 1024 * 1024
/** Default age of a free-space reading before it is refreshed. */
export const DISK_CHECK_MS = 1_000

/** What statfs reports that the guard needs. */
export interface DiskStats {
  bavail: number
  bsize: number
  blocks: number
}

/** Options of the disk guard. */
export interface DiskGuardInit {
  /** Free bytes kept in reserve. Default 64 MiB, at most a quarter of the volume when not given. */
  reserveBytes?: number
  /** Longest age of a free-space reading. Default 1 000 ms. */
  maxAgeMs?: number
  /** fs.statfs (tests inject a fake disk). */
  statfs?: (path: string) => Promise<DiskStats>
}

/** Watches the free space of the volume holding one folder. */
export class DiskGuard {
  readonly path: string
  #statfs: (path: string) => Promise<DiskStats>
  #maxAgeMs: number
  #reserveInit: number | undefined
  #reserve = 0
  #free = Number.POSITIVE_INFINITY
  #readAt = Number.NEGATIVE_INFINITY
  #reading: Promise<void> | undefined

  private constructor(path: string, init: DiskGuardInit) {
    this.path = path
    this.#statfs = init.statfs ?? fsStatfs
    this.#maxAgeMs = Math.max(0, init.maxAgeMs ?? DISK_CHECK_MS)
    this.#reserveInit = init.reserveBytes
  }

  /** A guard over the volume of `path`, with its first reading taken. */
  static async open(path: string, init: DiskGuardInit = {}): Promise<DiskGuard> {
    const guard = new DiskGuard(path, init)
    await guard.refresh()
    return guard
  }

  /** Free bytes as last read, less what was written since. */
  get free(): number {
    return this.#free
  }

  /** The reserve in bytes. */
  get reserve(): number {
    return this.#reserve
  }

  /** True when free space is under the reserve: refuse what adds state, keep what settles it. */
  get low(): boolean {
    if (performance.now() - this.#readAt > this.#maxAgeMs) void this.refresh()
    return this.#free < this.#reserve
  }

  /** Count `bytes` written since the last reading (keeps the estimate on the safe side until the next one). */
  consume(bytes: number): void {
    if (bytes > 0) this.#free -= bytes
  }

  /** Read the free space now (one statfs at a time). */
  async refresh(): Promise<void> {
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined
    })
    await this.#reading
  }

  async #read(): Promise<void> {
    try {
      const s = await this.#statfs(this.path)
      const total = s.blocks * s.bsize
      this.#free = s.bavail * s.bsize
      this.#reserve = this.#reserveInit ?? Math.min(DISK_RESERVE_BYTES, Math.floor(total / 4))
    } catch {
      // a file system without statfs: nothing to guard by, never refuse for it
      this.#free = Number.POSITIVE_INFINITY
    }
    this.#readAt = performance.now()
  }
}
