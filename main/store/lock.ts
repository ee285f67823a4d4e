/**
 * One store per data folder, across processes, with a takeover of a dead owner's lock that two processes
 * racing for it cannot both win.
 *
 * The lock is a chain of epoch files `.lock.1`, `.lock.2`, … (a `.lock` of older versions counts as epoch
 * 0). The owner is whoever holds the highest epoch while its pid lives. To take a folder whose highest
 * epoch N is dead or released, a process writes a complete temp file (pid + nonce) and `link()`s it to
 * epoch N+1: link never replaces, so of all racers exactly one creates N+1 and the others see EEXIST.
 * The winner lists again and owns only if nothing higher exists, then removes the epochs below its own.
 * The highest epoch is never deleted (release marks it `released` by an atomic rename onto the same
 * name), so a slow racer that still believes N is the top cannot re-create a deleted N and win with it.
 * Nobody ever removes or replaces a file that may be the live owner's: that is what removes the race of
 * the old remove-then-create takeover.
 */
import { randomBytes } from 'node:crypto'
import { chmod, link, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { StoreLockedError, toWriteError } from './errors.ts'

/** Name of the lock file of older versions inside the data folder (epoch 0). */
export const LOCK_FILE = '.lock'

/** A lock of the old kind that is being created has no pid yet for this long; older empty ones are stale. */
const EMPTY_LOCK_GRACE_MS = 5_000
/** Rounds of list/read/link before giving up: each lost round means another process made progress. */
const MAX_ROUNDS = 64
const RELEASED = 'released'
const EPOCH = /^\.lock\.(\d{1,15})$/
const TEMP = /^\.lock-(\d+)-[0-9a-f]+\.tmp$/

/** Process-wide record of held locks, so one process cannot open the same folder twice. */
const held = new Set<string>()

/** A held folder lock. */
export interface FolderLock {
  readonly path: string
  release(): Promise<void>
}

/** Take the folder's lock or throw StoreLockedError (StoreWriteError when the folder is not writable). */
export async function acquireLock(dataDir: string): Promise<FolderLock> {
  const dir = resolve(dataDir)
  if (held.has(dir)) throw new StoreLockedError(join(dir, LOCK_FILE), process.pid)
  held.add(dir)
  try {
    const path = await takeEpoch(dir)
    // the owner keeps the folder private, whoever created it (tokens, keys and tallies live here)
    await chmod(dir, 0o700).catch(() => {})
    return ownedLock(dir, path)
  } catch (err) {
    held.delete(dir)
    throw err
  }
}

function ownedLock(dir: string, path: string): FolderLock {
  let released = false
  return {
    path,
    async release() {
      if (released) return
      released = true
      try {
        // only mark it if it is still ours; the rename keeps the name (the chain's top) in place throughout
        const owner = await readOwner(path)
        if (typeof owner === 'object' && owner.pid === process.pid) {
          const temp = tempName(dir)
          await writeFile(temp, `${RELEASED}\n`, { flag: 'wx', mode: 0o600 })
          await rename(temp, path).catch(async () => unlink(temp))
        }
      } catch {
        // a lock we cannot mark stays ours until this pid is gone: the next open takes it over then
      } finally {
        held.delete(dir)
      }
    }
  }
}

/** Create the next epoch above a dead or released top; return its path once it is the top. */
async function takeEpoch(dir: string): Promise<string> {
  const nonce = randomBytes(8).toString('hex')
  const temp = tempName(dir, nonce)
  try {
    await writeFile(temp, `${process.pid}\n${nonce}\n`, { flag: 'wx', mode: 0o600 })
  } catch (err) {
    throw toWriteError(err, join(dir, LOCK_FILE))
  }
  try {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const top = (await listEpochs(dir))[0]
      if (top !== undefined) {
        const owner = await readOwner(top.path)
        // gone between the listing and the read: a newer epoch replaced it, look again
        if (owner === 'gone') continue
        if (owner !== RELEASED && !(await isStale(top.path, owner)))
          throw new StoreLockedError(top.path, owner?.pid)
      }
      const next = (top?.epoch ?? 0) + 1
      const path = epochPath(dir, next)
      try {
        await link(temp, path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue
        throw toWriteError(err, path)
      }
      const epochs = await listEpochs(dir)
      if ((epochs[0]?.epoch ?? 0) > next) {
        // ours re-created a number a newer owner had already removed: never the top, so safe to remove
        await unlink(path).catch(() => {})
        continue
      }
      for (const older of epochs) if (older.epoch < next) await unlink(older.path).catch(() => {})
      await removeDeadTemps(dir)
      return path
    }
    throw new StoreLockedError(join(dir, LOCK_FILE))
  } finally {
    await unlink(temp).catch(() => {})
  }
}

interface Epoch {
  epoch: number
  path: string
}

/** Epoch files of `dir`, highest first (`.lock` of older versions as epoch 0). */
async function listEpochs(dir: string): Promise<Epoch[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    throw toWriteError(err, join(dir, LOCK_FILE))
  }
  const out: Epoch[] = []
  for (const name of names) {
    const m = EPOCH.exec(name)
    if (m !== null) out.push({ epoch: Number(m[1]), path: join(dir, name) })
    else if (name === LOCK_FILE) out.push({ epoch: 0, path: join(dir, name) })
  }
  return out.sort((a, b) => b.epoch - a.epoch)
}

type Owner = { pid: number } | typeof RELEASED | 'gone' | undefined

/** Who a lock file names: a pid, `released`, `gone` (no file), or undefined (empty or unreadable text). */
async function readOwner(path: string): Promise<Owner> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone'
    throw toWriteError(err, path)
  }
  const first = text.split('\n', 1)[0]?.trim() ?? ''
  if (first === RELEASED) return RELEASED
  const pid = Number(first)
  return /^\d+$/.test(first) && pid > 0 ? { pid } : undefined
}

async function isStale(path: string, owner: { pid: number } | undefined): Promise<boolean> {
  // no pid: only a lock of the old kind, caught between its create and its write (epochs are linked whole)
  if (owner === undefined) return olderThan(path, EMPTY_LOCK_GRACE_MS)
  // our own pid but not in `held`: left by an earlier run that had the same pid (containers reuse pids)
  return owner.pid === process.pid || !isAlive(owner.pid)
}

/** Temp files of processes that died between writing and removing them. */
async function removeDeadTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [])) {
    const m = TEMP.exec(name)
    if (m !== null && Number(m[1]) !== process.pid && !isAlive(Number(m[1])))
      await unlink(join(dir, name)).catch(() => {})
  }
}

function epochPath(dir: string, epoch: number): string {
  return join(dir, `${LOCK_FILE}.${epoch}`)
}

function tempName(dir: string, nonce = randomBytes(8).toString('hex')): string {
  return join(dir, `${LOCK_FILE}-${process.pid}-${nonce}.tmp`)
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
