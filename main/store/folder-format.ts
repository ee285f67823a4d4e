/**
 * The data folder's format number, in DIR/format.json. A version of Taleus opens a folder whose number it
 * knows and refuses a newer one (StoreNewerError), so a node taken back to an older release does not
 * half-read what the newer one wrote.
 *
 * History: 1, the folders before the number was kept (no format.json); 2, archived tokens in
 * `tokens-archive.jsonl` (token-book.ts) and the number kept from then on.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileDurable } from './durable-file.ts'
import { StoreCorruptError, StoreNewerError, toWriteError } from './errors.ts'

/** The format this version writes and the newest it reads. */
export const FOLDER_FORMAT = 2

/** The file that holds it. */
export const FORMAT_FILE = 'format.json'

/** The folder's format (1 when it has no number yet); throws StoreNewerError for one newer than ours. */
export async function readFolderFormat(dir: string): Promise<number> {
  const path = join(dir, FORMAT_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 1
    throw new StoreCorruptError(path, (err as NodeJS.ErrnoException).code ?? 'unreadable', { cause: err })
  }
  let format: unknown
  try {
    format = (JSON.parse(text) as { format?: unknown }).format
  } catch {
    format = undefined
  }
  if (typeof format !== 'number' || !Number.isSafeInteger(format) || format < 1)
    throw new StoreCorruptError(path, 'no data format number in it')
  if (format > FOLDER_FORMAT) throw new StoreNewerError(dir, format, FOLDER_FORMAT)
  return format
}

/** Check the folder's format and, when it is older than ours (or unset), mark it as ours. */
export async function claimFolderFormat(dir: string): Promise<void> {
  if ((await readFolderFormat(dir)) === FOLDER_FORMAT) return
  const path = join(dir, FORMAT_FILE)
  try {
    await writeFileDurable(path, `${JSON.stringify({ format: FOLDER_FORMAT })}\n`)
  } catch (err) {
    throw toWriteError(err, path)
  }
}
