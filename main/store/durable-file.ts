/**
 * Atomic and durable file replacement: write a temp file, fsync it, rename it over the target, fsync the
 * folder. Without both fsyncs a power cut can leave the new name pointing at an empty file (the rename
 * reached the disk, the data did not), and `serve` then refuses to start.
 */
import { randomBytes } from 'node:crypto'
import { open, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Adapter } from 'lowdb'
import { syncDir } from './journal.ts'

/** Replace `path` by `data` atomically and durably (file mode `mode`, 0600 by default). */
export async function writeFileDurable(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(temp, data, { flag: 'wx', mode })
    const fh = await open(temp, 'r+')
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(temp, path)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
  await syncDir(dirname(path))
}

/**
 * A lowdb adapter for a JSON file written through writeFileDurable. Writes run one at a time, each
 * serialising the data as it is when its turn comes, so a later state is never overwritten by an older one.
 */
export class DurableJSONFile<T> implements Adapter<T> {
  readonly path: string
  #chain: Promise<void> = Promise.resolve()

  constructor(path: string) {
    this.path = path
  }

  async read(): Promise<T | null> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as T
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  }

  async write(data: T): Promise<void> {
    const run = this.#chain.then(async () => writeFileDurable(this.path, JSON.stringify(data, null, 2)))
    this.#chain = run.catch(() => {})
    return run
  }
}
