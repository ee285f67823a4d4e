/**
 * The audit trail's files: the current journal `audit.jsonl` and rotated ones `audit.1.jsonl` (newest)
 * … `audit.<files-1>.jsonl` (oldest). Rotation renames each one step older (the oldest is replaced, so
 * it is deleted) and starts a new current file, which keeps the whole trail within a size cap.
 */
import { rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { openJournal, syncDir } from './journal.ts'
import type { JournalLine } from './journal.ts'

/** The path of rotated file `n` (1 = newest) of the trail whose current file is `path`. */
export function rotatedPath(path: string, n: number): string {
  const name = basename(path)
  const stem = name.endsWith('.jsonl') ? name.slice(0, -'.jsonl'.length) : name
  return join(dirname(path), `${stem}.${n}.jsonl`)
}

/** Shift the files one step older (dropping the oldest) and move the current file to `.1`. */
export async function rotateFiles(path: string, files: number): Promise<void> {
  await unlink(rotatedPath(path, files - 1)).catch(() => {})
  for (let n = files - 2; n >= 1; n--)
    await rename(rotatedPath(path, n), rotatedPath(path, n + 1)).catch(() => {})
  await rename(path, rotatedPath(path, 1))
  await syncDir(dirname(path))
}

/** Whole lines of rotated files 1 … files-1, newest first; a missing or unreadable file is skipped. */
export async function* readRotatedBackward(path: string, files: number): AsyncGenerator<JournalLine> {
  for (let n = 1; n < files; n++) {
    const file = rotatedPath(path, n)
    const exists = await stat(file).then(
      () => true,
      () => false
    )
    if (!exists) continue
    let journal
    try {
      ;({ journal } = await openJournal(file))
    } catch {
      continue
    }
    try {
      yield* journal.readBackward()
    } finally {
      await journal.close()
    }
  }
}

/** Bytes of the rotated files 1 … files-1. */
export async function rotatedBytes(path: string, files: number): Promise<number> {
  let total = 0
  for (let n = 1; n < files; n++)
    total += await stat(rotatedPath(path, n)).then(
      (s) => s.size,
      () => 0
    )
  return total
}
