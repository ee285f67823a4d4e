/** Secrets the whole cadre shares (token secret, peer key), kept in the database the cadre trusts. */
import type { Pool } from 'pg'

/** Thrown when a cadre secret cannot be read back after it was written. */
export class CadreSecretError extends Error {
  override name = 'CadreSecretError'
}

/**
 * The cadre's shared secret `name`: the stored one, or `create()`'s if none is stored yet (of nodes
 * starting at once, the first INSERT wins and all read the same value).
 */
export async function cadreSecret(pool: Pool, name: string, create: () => Uint8Array): Promise<Buffer> {
  await pool.query('INSERT INTO cadre_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
    name,
    Buffer.from(create())
  ])
  const res = await pool.query<{ value: Buffer }>('SELECT value FROM cadre_secrets WHERE name = $1', [name])
  const value = res.rows[0]?.value
  if (value === undefined) throw new CadreSecretError(`cadre secret ${name} missing`)
  return value
}
