/** Writing a journal's file whole: the atomic replace of a compaction, and the folder fsync it needs. */
import { open, rename } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { toWriteError } from './errors.ts'
import { sealLine } from './journal-seal.ts'
import { READ_CHUNK } from './journal-scan.ts'

/**
 * Replace a journal's file by `lines` (JSON texts, sealed here) atomically: temp file + fsync + rename +
 * fsync of the folder. Written in batches, so memory holds one batch, not the file.
 */
export async function rewriteJournal(path: string, lines: Iterable<string>): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.tmp`)
  try {
    const fh = await open(temp, 'w', 0o600)
    try {
      let batch: string[] = []
      let bytes = 0
      for (const line of lines) {
        const sealed = sealLine(line)
        batch.push(sealed)
        bytes += sealed.length
        if (bytes >= READ_CHUNK) {
          await fh.write(batch.join('\n') + '\n')
          batch = []
          bytes = 0
        }
      }
      if (batch.length > 0) await fh.write(batch.join('\n') + '\n')
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(temp, path)
    await syncDir(dirname(path))
  } catch (err) {
    throw toWriteError(err, path)
  }
}

/** fsync a folder so a rename or a new file in it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } catch {
    // some file systems refuse fsync on a directory; the rename itself is still atomic
  } finally {
    await fh.close()
  }
}
