/** A port remembered in a small JSON file of the data folder, so an address survives a restart. */
import { readFile } from 'node:fs/promises'
import { writeFileDurable } from '../store/durable-file.ts'

/** The port saved in `path`, if the file holds a valid one. */
export async function readSavedPort(path: string): Promise<number | undefined> {
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as { port?: unknown }
    return typeof v.port === 'number' && Number.isInteger(v.port) && v.port > 0 && v.port < 65536
      ? v.port
      : undefined
  } catch {
    return undefined
  }
}

/** Saves `port` in `path` (0600, durably), for the next run. */
export async function writeSavedPort(path: string, port: number): Promise<void> {
  await writeFileDurable(path, JSON.stringify({ port }) + '\n', 0o600)
}
