/**
 * The console's stable address: its port (DIR/console.json) and bearer secret (DIR/api-secret, 0600)
 * outlive a restart, so an open tab or a bookmark keeps working until the operator rotates the secret
 * (`taleus console --rotate`); a running node picks a rotated secret up within a second.
 */
import { readFileSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { API_SECRET_FILE } from './api-client.ts'
import { readSavedPort, writeSavedPort } from '../service/saved-port.ts'

/** Where the console's port is kept between runs. */
export const CONSOLE_FILE = 'console.json'

/** How long a read secret is trusted before the file is looked at again (rotation takes this long). */
const RECHECK_MS = 1000

/** A usable secret: what createSecret makes (43 URL-safe characters), or any long URL-safe text. */
function isSecret(text: string): boolean {
  return /^[A-Za-z0-9_-]{32,256}$/.test(text)
}

/** The secret kept in `dataDir`, or undefined when there is none (or it is not one). */
export async function readSecret(dataDir: string): Promise<string | undefined> {
  try {
    const text = (await readFile(join(dataDir, API_SECRET_FILE), 'utf8')).trim()
    return isSecret(text) ? text : undefined
  } catch {
    return undefined
  }
}

/** Write a new secret (atomic, durable, 0600) and return it. */
export async function rotateSecret(dataDir: string): Promise<string> {
  const [{ createSecret }, { writeFileDurable }] = await Promise.all([
    import('../api/auth.ts'),
    import('../store/durable-file.ts')
  ])
  const secret = createSecret()
  await writeFileDurable(join(dataDir, API_SECRET_FILE), secret, 0o600)
  return secret
}

/** The kept secret, made once if missing. */
export async function loadOrCreateSecret(dataDir: string): Promise<string> {
  return (await readSecret(dataDir)) ?? (await rotateSecret(dataDir))
}

/** A getter of the current secret for the API server: re-reads the file at most once a second when it changed. */
export function watchSecret(dataDir: string, initial: string): () => string {
  const file = join(dataDir, API_SECRET_FILE)
  let secret = initial
  let checkedAt = Date.now()
  let mtime = mtimeOf(file)
  return () => {
    const now = Date.now()
    if (now - checkedAt < RECHECK_MS) return secret
    checkedAt = now
    const m = mtimeOf(file)
    if (m !== undefined && m !== mtime) {
      mtime = m
      try {
        const text = readFileSync(file, 'utf8').trim()
        if (isSecret(text)) secret = text
      } catch {
        // unreadable for a moment: keep the one we have
      }
    }
    return secret
  }
}

function mtimeOf(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs
  } catch {
    return undefined
  }
}

/** The port the console used last time, if any. */
export async function savedPort(dataDir: string): Promise<number | undefined> {
  return readSavedPort(join(dataDir, CONSOLE_FILE))
}

/** Remember the console's port for the next run. */
export async function savePort(dataDir: string, port: number): Promise<void> {
  await writeSavedPort(join(dataDir, CONSOLE_FILE), port)
}
