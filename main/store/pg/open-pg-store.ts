/**
 * Open the PostgreSQL store of a cadre node: connect, apply the migrations (once across nodes), fetch
 * the cadre's shared secrets (the first node to start creates them) and load the mirror.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import pg from 'pg'
import { writeFileDurable } from '../durable-file.ts'
import { cadreSecret } from './cadre-secret.ts'
import { applyMigrations } from './migrations.ts'
import { channelOf } from './notify.ts'
import { PgMerchantStore } from './pg-store.ts'

/** Options of openPgStore. */
export interface PgStoreInit {
  /** postgres://user:password@host:port/database; `?schema=name` picks the schema (default `taleus`). */
  url: string
  /** Local folder of this node (its node name file); created if missing. */
  dataDir: string
  /** The server's password when it is not in the URL (a saved setting); else PGPASSWORD or ~/.pgpass. */
  password?: string
  /** Schema of the cadre's tables (overrides the URL's). Lower-case letters, digits and `_`. */
  schema?: string
  /** This node's name in the cadre. Default: kept in DATADIR/node-name, `hostname-random` at first start. */
  node?: string
  /** Connections in the pool. Default 10. */
  poolSize?: number
  /** Give up connecting to the server after this long. Default 5000 ms. */
  connectTimeoutMs?: number
  /** Longest delay before audit events are written. Default 100 ms. */
  auditFlushMs?: number
  auditMemoryEvents?: number
  /** A node silent this long is gone: its drafts are abandoned by recover(). Default 60 000. */
  staleNodeMs?: number
  /** Clock for expiry and timestamps (tests). Default Date.now. */
  now?: () => number
}

/** Thrown when the store's URL or names are not usable. */
export class PgStoreConfigError extends Error {
  override name = 'PgStoreConfigError'
}

/** What a schema name may be. */
export const SCHEMA = /^[a-z_][a-z0-9_]{0,40}$/
const NODE = /^[A-Za-z0-9._:-]{1,64}$/

/** True when `store` names a PostgreSQL server rather than a folder. */
export function isPostgresUrl(store: string | undefined): store is string {
  return store !== undefined && /^postgres(ql)?:\/\//.test(store)
}

/** Open (and start following) the cadre store at `init.url`. */
export async function openPgStore(init: PgStoreInit): Promise<PgMerchantStore> {
  const url = new URL(init.url)
  const schema = init.schema ?? url.searchParams.get('schema') ?? 'taleus'
  url.searchParams.delete('schema')
  // in memory only: pg lets a connection string's (missing) password override a `password` option
  if (init.password !== undefined) url.password = encodeURIComponent(init.password)
  if (!SCHEMA.test(schema))
    throw new PgStoreConfigError(`schema "${schema}": lower-case letters, digits and _`)
  const dataDir = resolve(init.dataDir)
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const node = init.node ?? (await nodeName(dataDir))
  if (!NODE.test(node)) throw new PgStoreConfigError('node name: letters, digits and . _ : - (at most 64)')
  const staleNodeMs = init.staleNodeMs ?? 60_000
  const pool = new pg.Pool({
    connectionString: url.toString(),
    max: init.poolSize ?? 10,
    // a server that does not answer (a dropped network) fails a hook with `busy` instead of hanging it
    connectionTimeoutMillis: init.connectTimeoutMs ?? 5000,
    options: `-c search_path=${schema}`,
    // epoch milliseconds are bigint columns: numbers, not strings
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20 ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser
    }
  })
  // an idle client that loses its server must not crash the process; the next query reconnects
  pool.on('error', () => {})
  try {
    const client = await pool.connect()
    try {
      await applyMigrations(client, schema)
    } finally {
      client.release()
    }
    const secret = await cadreSecret(pool, 'token-secret', () => randomBytes(32))
    const store = new PgMerchantStore({
      pool,
      schema,
      channel: channelOf(schema),
      node,
      dataDir,
      secret,
      now: init.now ?? Date.now,
      staleNodeMs,
      heartbeatMs: Math.max(1000, Math.floor(staleNodeMs / 4)),
      ...(init.auditFlushMs === undefined ? {} : { auditFlushMs: init.auditFlushMs }),
      ...(init.auditMemoryEvents === undefined ? {} : { auditMemoryEvents: init.auditMemoryEvents })
    })
    await store.start()
    return store
  } catch (err) {
    await pool.end().catch(() => {})
    throw err
  }
}

/** This node's name, kept in its data folder so a restart keeps it (its drafts are found again). */
async function nodeName(dataDir: string): Promise<string> {
  const file = join(dataDir, 'node-name')
  try {
    const text = (await readFile(file, 'utf8')).trim()
    if (NODE.test(text)) return text
  } catch {
    // first start
  }
  const host =
    hostname()
      .replace(/[^A-Za-z0-9.-]/g, '')
      .slice(0, 40) || 'node'
  const name = `${host}-${randomBytes(3).toString('hex')}`
  await writeFileDurable(file, Buffer.from(name + '\n'), 0o600)
  return name
}
