/**
 * One store per data folder: an exclusive lock file holding the owner's pid. A lock whose pid is dead
 * (crash, kill -9) is taken over; a live one refuses the open.
 */
import { open, readFile, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { StoreLockedError, toWriteError } from './errors.ts'

/** Name of the lock file inside the data folder. */
export const LOCK_FILE = '.lock'

/** A lock that is being created has no pid yet for this long; older empty locks are stale. */
const EMPTY_LOCK_GRACE_MS = 5_000

/** Process-wide record of held locks, so one process cannot open the same folder twice. */
const held = new Set<string>()

/** A held folder lock. */
export interface FolderLock {
  readonly path: string
  release(): Promise<void>
}

/** Take the folder's lock or throw StoreLockedError (StoreWriteError when the folder is not writable). */
export async function acquireLock(dataDir: string): Promise<FolderLock> {
  const path = join(dataDir, LOCK_FILE)
  if (held.has(path)) throw new StoreLockedError(path, process.pid)
  held.add(path)
  try {
    await createLock(path, true)
  } catch (err) {
    held.delete(path)
    throw err
  }
  let released = false
  return {
    path,
    async release() {
      if (released) return
      released = true
      held.delete(path)
      // only remove the file if it is still ours (never someone's who took over a lock we lost)
      const owner = await readPid(path).catch(() => undefined)
      if (owner === process.pid) await unlink(path).catch(() => {})
    }
  }
}

async function createLock(path: string, mayTakeOver: boolean): Promise<void> {
  try {
    const fh = await open(path, 'wx', 0o644)
    try {
      await fh.writeFile(`${process.pid}\n`)
      await fh.sync()
    } finally {
      await fh.close()
    }
    return
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw toWriteError(err, path)
  }
  const pid = await readPid(path).catch(() => undefined)
  // our own pid but not in `held`: left by an earlier run that had the same pid (containers reuse pids)
  const stale =
    pid === undefined ? await olderThan(path, EMPTY_LOCK_GRACE_MS) : pid === process.pid || !isAlive(pid)
  if (!stale || !mayTakeOver) throw new StoreLockedError(path, pid)
  await unlink(path).catch(() => {})
  // a second 'wx' decides between two processes taking over the same stale lock
  await createLock(path, false)
}

async function readPid(path: string): Promise<number | undefined> {
  const text = (await readFile(path, 'utf8')).trim()
  const pid = Number(text)
  return /^\d+$/.test(text) && pid > 0 ? pid : undefined
}

async function olderThan(path: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > ms
  } catch {
    return true
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
