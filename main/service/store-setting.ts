/**
 * The store setting of a node (issue J): its own folder (lowdb, the default) or a PostgreSQL server shared
 * by a cadre, chosen in the console, checked by connecting, and applied at the next start. The URL (never
 * with its password) is kept in DATADIR/store.json and the password apart in DATADIR/store-password, both
 * 0600 like DATADIR/api-secret; the password is never sent back, logged, audited or put in an error.
 */
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import pg from 'pg'
import type { StoreChoice, StoreSettingInput, StoreSettingView } from '../views/console-views.ts'
import { ApiError } from './api-error.ts'
import { writeFileDurable } from '../store/durable-file.ts'
import { MIGRATIONS, ident } from '../store/pg/migrations.ts'
import { SCHEMA, isPostgresUrl } from '../store/pg/open-pg-store.ts'

/** The setting's file in the data folder (kind and URL, no password). */
export const STORE_SETTING_FILE = 'store.json'
/** The saved password's file in the data folder (0600). */
export const STORE_PASSWORD_FILE = 'store-password'

/** Giving up on a server that does not answer. */
const CONNECT_TIMEOUT_MS = 5000

/** A saved setting with its password (which never leaves this process). */
export type SavedStore = { kind: 'lowdb' } | { kind: 'postgres'; url: string; password?: string }

/** The store a node starts on, and what chose it. */
export interface StoreTarget {
  /** A postgres:// URL; undefined: the data folder. */
  url?: string
  password?: string
  source: StoreSettingView['running']['source']
}

/** DATADIR/store.json cannot be read: refuse to start rather than quietly run on another store. */
export class StoreSettingError extends Error {
  override name = 'StoreSettingError'
}

/** The saved setting of `dataDir` (the folder when none was saved). */
export async function readStoreSetting(dataDir: string): Promise<SavedStore> {
  const file = join(dataDir, STORE_SETTING_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return { kind: 'lowdb' }
    throw new StoreSettingError(`cannot read ${file}: ${(err as { code?: string }).code ?? 'error'}`)
  }
  let parsed: { kind?: unknown; url?: unknown }
  try {
    parsed = JSON.parse(text) as { kind?: unknown; url?: unknown }
  } catch {
    throw new StoreSettingError(`${file} is not valid JSON: fix it, or remove it to use the data folder`)
  }
  if (parsed.kind === 'lowdb') return { kind: 'lowdb' }
  if (parsed.kind !== 'postgres' || typeof parsed.url !== 'string' || !isPostgresUrl(parsed.url))
    throw new StoreSettingError(`${file} names no store: fix it, or remove it to use the data folder`)
  const password = await readFile(join(dataDir, STORE_PASSWORD_FILE), 'utf8').catch(() => undefined)
  return { kind: 'postgres', url: parsed.url, ...(password === undefined ? {} : { password }) }
}

/** Save `saved` for the next start: the URL in store.json, the password apart (both 0600). */
export async function saveStoreSetting(dataDir: string, saved: SavedStore): Promise<void> {
  const passwordFile = join(dataDir, STORE_PASSWORD_FILE)
  if (saved.kind === 'postgres' && saved.password !== undefined)
    await writeFileDurable(passwordFile, Buffer.from(saved.password, 'utf8'), 0o600)
  else await rm(passwordFile, { force: true })
  const body = saved.kind === 'postgres' ? { kind: 'postgres', url: saved.url } : { kind: 'lowdb' }
  await writeFileDurable(join(dataDir, STORE_SETTING_FILE), Buffer.from(JSON.stringify(body) + '\n'), 0o600)
}

/** What decides the store at start: `--store` (or the service's init), then TALEUS_STORE, then the setting. */
export function resolveStoreTarget(
  flag: string | undefined,
  env: string | undefined,
  saved: SavedStore
): StoreTarget {
  if (flag !== undefined) return isPostgresUrl(flag) ? { url: flag, source: 'flag' } : { source: 'flag' }
  if (env !== undefined && env !== '')
    return isPostgresUrl(env) ? { url: env, source: 'env' } : { source: 'env' }
  if (saved.kind === 'postgres')
    return {
      url: saved.url,
      ...(saved.password === undefined ? {} : { password: saved.password }),
      source: 'setting'
    }
  return { source: 'default' }
}

/** A URL as the console may show it: without its password. */
export function publicUrl(url: string): string {
  try {
    const u = new URL(url)
    u.password = ''
    return u.toString()
  } catch {
    return 'postgres://…'
  }
}

/** What the console shows of the setting. */
export function storeSettingView(running: StoreTarget, saved: SavedStore): StoreSettingView {
  const choice = (url: string | undefined, passwordSaved: boolean): StoreChoice =>
    url === undefined
      ? { kind: 'lowdb' }
      : { kind: 'postgres', url: publicUrl(url), ...(passwordSaved ? { passwordSaved } : {}) }
  const savedChoice = choice(
    saved.kind === 'postgres' ? saved.url : undefined,
    saved.kind === 'postgres' && saved.password !== undefined
  )
  const overriddenBy = running.source === 'flag' || running.source === 'env' ? running.source : undefined
  const runningUrl = running.url === undefined ? undefined : publicUrl(running.url)
  return {
    running: { ...choice(running.url, running.password !== undefined), source: running.source },
    saved: savedChoice,
    restartNeeded: overriddenBy === undefined && runningUrl !== savedChoice.url,
    ...(overriddenBy === undefined ? {} : { overriddenBy })
  }
}

/**
 * Check the store `input` names and return what to save. A PostgreSQL URL is checked by connecting:
 * the server answers, accepts the user and password, and lets it create our tables in the schema (tried
 * in a transaction that is rolled back). `kept` is the password saved so far, reused for the same URL
 * when none is given. Failures are ApiErrors whose message says what is wrong in plain words.
 */
export async function checkStore(input: StoreSettingInput, kept?: SavedStore): Promise<SavedStore> {
  if (input.kind === 'lowdb') return { kind: 'lowdb' }
  let url: URL
  try {
    url = new URL(input.url)
  } catch {
    throw new ApiError('bad-input', 400, 'url: not a valid postgres:// address')
  }
  if (url.hostname === '') throw new ApiError('bad-input', 400, 'url: the server name is missing')
  const schema = url.searchParams.get('schema') ?? 'taleus'
  if (!SCHEMA.test(schema))
    throw new ApiError('bad-input', 400, 'url: the schema may hold lower-case letters, digits and _ only')
  // a password typed into the URL is taken out of it: only the password field's file holds one
  const inUrl = url.password === '' ? undefined : decodeURIComponent(url.password)
  url.password = ''
  const clean = url.toString()
  const reused = kept?.kind === 'postgres' && kept.url === clean ? kept.password : undefined
  const password = input.password !== undefined && input.password !== '' ? input.password : (inUrl ?? reused)
  await probe(url, schema, password)
  return { kind: 'postgres', url: clean, ...(password === undefined ? {} : { password }) }
}

async function probe(url: URL, schema: string, password: string | undefined): Promise<void> {
  const target = new URL(url)
  target.searchParams.delete('schema')
  // in memory only: pg lets a connection string's (missing) password override a `password` option
  if (password !== undefined) target.password = encodeURIComponent(password)
  const where = `${url.hostname}:${url.port || '5432'}`
  const user = decodeURIComponent(url.username) || 'the default user'
  const database = decodeURIComponent(url.pathname.slice(1)) || user
  const client = new pg.Client({
    connectionString: target.toString(),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: CONNECT_TIMEOUT_MS * 2
  })
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (err) {
    await client.end().catch(() => {})
    throw describeFailure(err, { where, user, database, schema })
  }
  try {
    const version = Number(
      (await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v ?? 0
    )
    if (version < 90500)
      throw new ApiError(
        'store-not-migratable',
        422,
        `The server at ${where} runs PostgreSQL older than 9.5.`
      )
    await client.query('BEGIN')
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`)
    await client.query(`SET LOCAL search_path TO ${ident(schema)}`)
    const known = await client.query<{ t: string | null }>("SELECT to_regclass('migrations')::text AS t")
    if (known.rows[0]?.t != null) {
      const top = await client.query<{ m: number | null }>('SELECT max(id) AS m FROM migrations')
      const newest = MIGRATIONS[MIGRATIONS.length - 1]?.id ?? 0
      if ((top.rows[0]?.m ?? 0) > newest)
        throw new ApiError(
          'store-not-migratable',
          422,
          `Schema "${schema}" in database "${database}" was made by a newer Taleus: update this node first.`
        )
    }
    await client.query('CREATE TABLE taleus_probe (x integer)')
  } catch (err) {
    throw describeFailure(err, { where, user, database, schema })
  } finally {
    await client.query('ROLLBACK').catch(() => {})
    await client.end().catch(() => {})
  }
}

/** A failed check in words a merchant can act on (never the password, never the driver's whole text). */
function describeFailure(
  err: unknown,
  at: { where: string; user: string; database: string; schema: string }
): ApiError {
  if (err instanceof ApiError) return err
  const { code, message } = err as { code?: string; message?: string }
  const text = typeof message === 'string' ? message : ''
  if (code === 'ECONNREFUSED')
    return new ApiError(
      'store-unreachable',
      422,
      `Nothing answers at ${at.where}: is PostgreSQL running there, and does it accept connections from this computer?`
    )
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new ApiError(
      'store-unreachable',
      422,
      `The server name in ${at.where} is not known on this network.`
    )
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || /timeout/i.test(text))
    return new ApiError(
      'store-unreachable',
      422,
      `The server at ${at.where} did not answer within ${CONNECT_TIMEOUT_MS / 1000} seconds.`
    )
  if (code === '28P01' || /password must be a string|SASL/i.test(text))
    return new ApiError(
      'store-auth',
      422,
      `The server refused the password for user "${at.user}" (wrong password, or none given).`
    )
  if (code === '28000')
    return new ApiError(
      'store-auth',
      422,
      `The server does not let user "${at.user}" in from this computer (its pg_hba.conf).`
    )
  if (code === '3D000')
    return new ApiError(
      'store-no-database',
      422,
      `There is no database "${at.database}" on the server at ${at.where}.`
    )
  if (code === '42501')
    return new ApiError(
      'store-not-migratable',
      422,
      `User "${at.user}" may not create tables in schema "${at.schema}" of database "${at.database}": ` +
        'give it a database or schema of its own (see the README).'
    )
  return new ApiError(
    'store-check-failed',
    422,
    `The server at ${at.where} refused the check${typeof code === 'string' ? ` (SQLSTATE ${code})` : ''}.`
  )
}
