/**
 * The store setting in the console (issue J): chosen through the HTTP API of a real console service,
 * checked by connecting to a real PostgreSQL (unreachable, wrong password, no such database, a schema we
 * may not create tables in or made by a newer Taleus: each a clear error with its own code), saved 0600
 * with the password apart and never sent back, and applied at the next start. Needs TALEUS_TEST_PG.
 */
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSecret } from '../../main/api/auth.ts'
import { startApiServer, type ApiServer } from '../../main/api/http-server.ts'
import { createConsoleService, type ConsoleService } from '../../main/service/index.ts'
import {
  STORE_PASSWORD_FILE,
  STORE_SETTING_FILE,
  readStoreSetting
} from '../../main/service/store-setting.ts'
import type { StoreSettingView } from '../../preload/contract.ts'
import { TEST_PG, dropSchemas, freshSchema } from '../helpers/stores.ts'

if (TEST_PG === undefined)
  process.stderr.write('SKIPPED tests/integration/store-setting.test.ts: TALEUS_TEST_PG is not set\n')

const LISTEN = ['/ip4/127.0.0.1/tcp/0']

describe.skipIf(TEST_PG === undefined)('the store setting, checked against a real PostgreSQL', () => {
  const server = new URL(TEST_PG ?? 'postgres://x@127.0.0.1/x')
  const password = decodeURIComponent(server.password)
  const schemas = [freshSchema(), freshSchema(), freshSchema()]
  const [good, full, newer] = schemas as [string, string, string]
  /** The server's URL without its password, on `schema`. */
  const urlOn = (schema: string, change: (u: URL) => void = () => {}): string => {
    const u = new URL(server)
    u.password = ''
    u.searchParams.set('schema', schema)
    change(u)
    return u.toString()
  }
  const secret = createSecret()
  let dir: string
  let service: ConsoleService | undefined
  let api: ApiServer | undefined
  const texts: string[] = []
  /**
   * The test server's password is also its user's and database's name, so a leak is the password where a
   * URL or an object would carry it.
   */
  const leaks = (text: string): boolean =>
    text.includes(`:${password}@`) ||
    text.includes(`:${encodeURIComponent(password)}@`) ||
    text.includes('"password":')

  async function call<T>(method: 'GET' | 'POST', body?: unknown): Promise<{ status: number; json: T }> {
    const res = await fetch(`${api!.url}/api/settings/store`, {
      method,
      headers: {
        authorization: `Bearer ${secret}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await res.text()
    texts.push(text)
    return { status: res.status, json: JSON.parse(text) as T }
  }
  const code = (r: { json: unknown }): string => (r.json as { error: { code: string } }).error.code

  async function startNode(): Promise<void> {
    service = await createConsoleService({ dataDir: dir, listen: LISTEN, mdns: false, tallyDb: false })
    await service.start()
    api = await startApiServer({ api: service, secret })
  }
  async function stopNode(): Promise<void> {
    await api?.close()
    await service?.stop()
    api = undefined
    service = undefined
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-store-setting-'))
    const db = new pg.Client({ connectionString: TEST_PG })
    await db.connect()
    try {
      // a schema the test role may not create tables in, and one a newer Taleus made
      await db.query(`CREATE SCHEMA ${full}`)
      await db.query(`REVOKE CREATE ON SCHEMA ${full} FROM CURRENT_USER`)
      await db.query(`CREATE SCHEMA ${newer}`)
      await db.query(`CREATE TABLE ${newer}.migrations (id integer PRIMARY KEY, name text NOT NULL)`)
      await db.query(`INSERT INTO ${newer}.migrations VALUES (9999, 'from the future')`)
    } finally {
      await db.end()
    }
    await startNode()
  })

  afterAll(async () => {
    await stopNode()
    await dropSchemas(TEST_PG as string, schemas)
    await rm(dir, { recursive: true, force: true })
  })

  it('a new node runs on its folder; each bad target is refused with its own code, nothing saved', async () => {
    const first = await call<StoreSettingView>('GET')
    expect(first.json).toEqual({
      running: { kind: 'lowdb', source: 'default' },
      saved: { kind: 'lowdb' },
      restartNeeded: false
    })
    const closedPort = await new Promise<number>((res) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number }
        srv.close(() => res(port))
      })
    })
    const refused = await Promise.all([
      call('POST', { kind: 'postgres', url: urlOn(good, (u) => (u.port = String(closedPort))), password }),
      call('POST', { kind: 'postgres', url: urlOn(good), password: 'not-the-password-4711' }),
      call('POST', {
        kind: 'postgres',
        url: urlOn(good, (u) => (u.pathname = '/no_such_db_4711')),
        password
      }),
      call('POST', { kind: 'postgres', url: urlOn(full), password }),
      call('POST', { kind: 'postgres', url: urlOn(newer), password }),
      call('POST', { kind: 'postgres', url: urlOn('Bad-Schema'), password }),
      call('POST', { kind: 'postgres', url: 'mysql://x@y/z' })
    ])
    expect(refused.map((r) => [r.status, code(r)])).toEqual([
      [422, 'store-unreachable'],
      [422, 'store-auth'],
      [422, 'store-no-database'],
      [422, 'store-not-migratable'],
      [422, 'store-not-migratable'],
      [400, 'bad-input'],
      [400, 'bad-input']
    ])
    // the message says what is wrong in words, and never holds the password given
    const messages = refused.map((r) => (r.json as { error: { message: string } }).error.message)
    expect(messages[0]).toMatch(/Nothing answers at 127\.0\.0\.1:\d+/)
    expect(messages[1]).toMatch(/refused the password/)
    expect(messages[2]).toMatch(/no database "no_such_db_4711"/)
    expect(messages[3]).toMatch(/may not create tables/)
    expect(messages[4]).toMatch(/newer Taleus/)
    expect(await readdir(dir)).not.toContain(STORE_SETTING_FILE)
  })

  it('a good URL is saved 0600 with the password apart, never shown back, and applies at the next start', async () => {
    // a password typed into the URL is moved out of it
    const withPassword = new URL(urlOn(good))
    withPassword.password = encodeURIComponent(password)
    const saved = await call<StoreSettingView>('POST', { kind: 'postgres', url: withPassword.toString() })
    expect(saved.status).toBe(200)
    expect(saved.json).toEqual({
      running: { kind: 'lowdb', source: 'default' },
      saved: { kind: 'postgres', url: urlOn(good), passwordSaved: true },
      restartNeeded: true
    })
    for (const name of [STORE_SETTING_FILE, STORE_PASSWORD_FILE])
      expect((await stat(join(dir, name))).mode & 0o777, name).toBe(0o600)
    const settingText = await readFile(join(dir, STORE_SETTING_FILE), 'utf8')
    expect(leaks(settingText)).toBe(false)
    expect(new URL((JSON.parse(settingText) as { url: string }).url).password).toBe('')
    expect(await readFile(join(dir, STORE_PASSWORD_FILE), 'utf8')).toBe(password)
    // saving the same URL again without a password keeps the saved one
    const again = await call<StoreSettingView>('POST', { kind: 'postgres', url: urlOn(good) })
    expect(again.json.saved.passwordSaved).toBe(true)

    await stopNode()
    await startNode()
    const running = await call<StoreSettingView>('GET')
    expect(running.json).toEqual({
      running: { kind: 'postgres', url: urlOn(good), passwordSaved: true, source: 'setting' },
      saved: { kind: 'postgres', url: urlOn(good), passwordSaved: true },
      restartNeeded: false
    })
    // it really runs on the server: a token created here is a row of the schema
    const token = await service!.createToken({ role: 'stock', uses: 1 })
    const db = new pg.Client({ connectionString: TEST_PG, options: `-c search_path=${good}` })
    await db.connect()
    try {
      const rows = await db.query('SELECT 1 FROM tokens WHERE token_id = $1', [token.tokenId])
      expect(rows.rowCount).toBe(1)
    } finally {
      await db.end()
    }

    // back to the folder: the password file goes, the node says a restart applies it
    const back = await call<StoreSettingView>('POST', { kind: 'lowdb' })
    expect(back.json).toMatchObject({ saved: { kind: 'lowdb' }, restartNeeded: true })
    expect(await readdir(dir)).not.toContain(STORE_PASSWORD_FILE)
    expect(await readStoreSetting(dir)).toEqual({ kind: 'lowdb' })
    // the operator's change is in the trail (of the store running now), without the URL or the password
    const ops = await service!.listOperations({ limit: 10 })
    expect(ops.filter((o) => o.op === 'store-setting').map((o) => o.detail)).toEqual([{ kind: 'lowdb' }])
    expect(texts.filter(leaks)).toEqual([])
    expect(leaks(JSON.stringify(ops))).toBe(false)
  })
})
