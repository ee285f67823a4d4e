/**
 * Token texts are never stored: each is HMAC-SHA256(node secret, tokenId), so the console can show a
 * token's QR code again after a restart, while tokens.json holds only sha256(token) for lookup.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmod, open, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { StoreCorruptError, toWriteError } from './errors.ts'
import { syncDir } from './journal.ts'

/** Name of the node secret file inside the data folder (mode 0600). */
export const SECRET_FILE = 'secret'
const SECRET_BYTES = 32

/** Read the folder's node secret, creating it on first use. */
export async function loadSecret(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, SECRET_FILE)
  try {
    const secret = await readFile(path)
    // empty: a crash came between creating and writing it, so no token can depend on it yet
    if (secret.length === 0) await unlink(path)
    else if (secret.length !== SECRET_BYTES)
      throw new StoreCorruptError(path, `expected ${SECRET_BYTES} bytes, found ${secret.length}`)
    else {
      await chmod(path, 0o600).catch(() => {})
      return secret
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof StoreCorruptError) throw err
      throw new StoreCorruptError(path, (err as NodeJS.ErrnoException).code ?? 'unreadable', { cause: err })
    }
  }
  const secret = randomBytes(SECRET_BYTES)
  try {
    const fh = await open(path, 'wx', 0o600)
    try {
      await fh.writeFile(secret)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await syncDir(dataDir)
  } catch (err) {
    throw toWriteError(err, path)
  }
  return secret
}

/** The secret token text of `tokenId` (base64url, 43 characters). */
export function deriveToken(secret: Buffer, tokenId: string): string {
  return createHmac('sha256', secret).update(tokenId, 'utf8').digest('base64url')
}

/** What tokens.json stores for lookup: sha256 of the token text, hex. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** Constant-time equality of two hex digests of the same length. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex')
  const y = Buffer.from(b, 'hex')
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y)
}
