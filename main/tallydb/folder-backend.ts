/**
 * A TallyDb's own folder: its lock, its index (index.jsonl) and its documents' journal (chunks.jsonl).
 * The lock keeps a second process (or a second TallyDb of this one) out: two writers appending to one
 * journal would interleave their lines and lose documents.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { acquireLock } from '../store/lock.ts'
import type { FolderLock } from '../store/lock.ts'
import { StoreLockedError } from '../store/errors.ts'
import { TallyDbLockedError } from './errors.ts'
import { JournalStorageAdapter } from './journal-storage.ts'
import { TallyIndex } from './tally-index.ts'

/** An open folder: what TallyDb reads and writes, and the lock it releases last on close. */
export interface FolderBackend {
  index: TallyIndex
  storage: JournalStorageAdapter
  lock: FolderLock
}

/** Lock and open `dir` (created private if missing); TallyDbLockedError when another holder has it. */
export async function openFolderBackend(dir: string): Promise<FolderBackend> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const lock = await acquireLock(dir).catch((err: unknown) => {
    throw err instanceof StoreLockedError ? new TallyDbLockedError(dir, err.pid, { cause: err }) : err
  })
  let index: TallyIndex | undefined
  try {
    index = await TallyIndex.open(join(dir, 'index.jsonl'))
    const opened = index
    const storage = await JournalStorageAdapter.open(join(dir, 'chunks.jsonl'), (documentId) =>
      opened.firstState(documentId)
    )
    return { index, storage, lock }
  } catch (err) {
    await index?.close()
    await lock.release()
    throw err
  }
}
