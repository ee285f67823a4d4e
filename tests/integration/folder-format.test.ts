/**
 * The data format a folder or cadre database was written in: an older one (or none) opens and is marked
 * ours; a newer one is refused by `openStore`, `taleus doctor` and a PostgreSQL cadre node, with nothing
 * in it changed. The PostgreSQL case needs TALEUS_TEST_PG (skipped, and says so, without it).
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { doctor } from '../../main/cli/doctor.ts'
import { reportError } from '../../main/cli/report-error.ts'
import { FOLDER_FORMAT, FORMAT_FILE } from '../../main/store/folder-format.ts'
import { openStore } from '../../main/store/index.ts'
import { MIGRATIONS, openPgStore } from '../../main/store/pg/index.ts'
import { dropSchemas, freshSchema } from '../helpers/stores.ts'

const PG = process.env.TALEUS_TEST_PG
if (PG === undefined)
  process.stderr.write(
    'SKIPPED tests/integration/folder-format.test.ts (the PostgreSQL case): TALEUS_TEST_PG is not set\n'
  )

/** Every file of `dir` with its bytes (but the lock's own), to show a refused open changed nothing. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const name of (await readdir(dir)).filter((n) => !n.startsWith('.lock')).sort())
    files[name] = await readFile(join(dir, name), 'base64')
  return files
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

describe('a data folder’s format', () => {
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-format-'))
  })

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('a new folder and one from before the number was kept are marked as this version’s', async () => {
    const store = await openStore(dir)
    await store.createToken({ role: 'stock', uses: 1 })
    await store.close()
    expect(JSON.parse(await readFile(join(dir, FORMAT_FILE), 'utf8'))).toEqual({ format: FOLDER_FORMAT })
    // a folder of an earlier release: the same files, no number
    await rm(join(dir, FORMAT_FILE))
    const again = await openStore(dir)
    expect(again.listTokens()).toHaveLength(1)
    await again.close()
    expect(JSON.parse(await readFile(join(dir, FORMAT_FILE), 'utf8'))).toEqual({ format: FOLDER_FORMAT })
  })

  it('a folder a newer Taleus wrote is refused whole by the node and by doctor, and left as it was', async () => {
    const store = await openStore(dir)
    await store.createToken({ role: 'stock', uses: 1 })
    await store.close()
    await writeFile(join(dir, FORMAT_FILE), JSON.stringify({ format: FOLDER_FORMAT + 1 }))
    // a line a newer version might write that this one would take for damage
    await writeFile(join(dir, 'tallies.jsonl'), '{"v":9,"something":"new"}\n', { flag: 'a' })
    const before = await snapshot(dir)

    const opened = await rejection(openStore(dir))
    expect(opened.name).toBe('StoreNewerError')
    const repaired = await rejection(doctor({ dataDir: dir, repair: true }))
    expect(repaired.name).toBe('StoreNewerError')
    expect(await snapshot(dir)).toEqual(before)

    // the CLI prints it as one line of words, exit 1
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    try {
      expect(reportError(opened)).toBe(1)
      const line = String(stderr.mock.calls[0]?.[0])
      expect(line).toMatch(
        /^taleus: .* was written by a newer Taleus \(data format 3; this version reads up to 2\): update Taleus/
      )
      expect(line).not.toContain('StoreNewerError')
    } finally {
      stderr.mockRestore()
    }
    // the lock was let go: once the number is one this version reads, the folder opens
    await writeFile(join(dir, FORMAT_FILE), JSON.stringify({ format: FOLDER_FORMAT }))
    await rm(join(dir, 'tallies.jsonl'))
    await (await openStore(dir)).close()
  })

  it('a format file that holds no number is refused as damaged, not overwritten', async () => {
    await (await openStore(dir)).close()
    await writeFile(join(dir, FORMAT_FILE), 'not json')
    expect((await rejection(openStore(dir))).name).toBe('StoreCorruptError')
    expect(await readFile(join(dir, FORMAT_FILE), 'utf8')).toBe('not json')
  })
})

describe.skipIf(PG === undefined)('a cadre database’s format', () => {
  const url = PG as string
  const schemas: string[] = []
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-format-pg-'))
  })

  afterEach(async () => {
    await dropSchemas(url, schemas.splice(0))
    await rm(dir, { recursive: true, force: true })
  })

  it('a node refuses a schema a newer node migrated past what it knows', async () => {
    const schema = freshSchema()
    schemas.push(schema)
    await (await openPgStore({ url, dataDir: dir, schema })).close()
    const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` })
    await client.connect()
    try {
      const newer = (MIGRATIONS.at(-1)?.id ?? 0) + 1
      await client.query('INSERT INTO migrations (id, name) VALUES ($1, $2)', [newer, 'from a newer release'])
      const err = await rejection(openPgStore({ url, dataDir: dir, schema }))
      expect(err.name).toBe('StoreNewerError')
      expect(err.message).toContain(`"${schema}"`)
      await client.query('DELETE FROM migrations WHERE id = $1', [newer])
    } finally {
      await client.end()
    }
    await (await openPgStore({ url, dataDir: dir, schema })).close()
  })
})
