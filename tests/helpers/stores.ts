/**
 * The stores the store-level suites run on: lowdb always, PostgreSQL when TALEUS_TEST_PG names a server
 * (`.ci/run` starts one). Without it the PostgreSQL runs are skipped, and say so once.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { AuditQuery, SessionEvent } from '../../preload/contract.ts'
import { openStore } from '../../main/store/index.ts'
import type { MerchantStore } from '../../main/store/index.ts'
import { openPgStore } from '../../main/store/pg/index.ts'

/** A store under test, with the additive audit query both implementations have. */
export type TestStore = MerchantStore & { queryAudit(query?: AuditQuery): Promise<SessionEvent[]> }

/** One kind of store: how to open it on a folder, and how to drop what it left behind. */
export interface StoreKind {
  name: 'lowdb' | 'postgres'
  open(dir: string, init?: { now?: () => number }): Promise<TestStore>
  cleanup(): Promise<void>
}

/** postgres://… of the test server, or undefined. */
export const TEST_PG = process.env.TALEUS_TEST_PG

let told = false

/** The kinds to run a suite over. */
export function storeKinds(): StoreKind[] {
  const kinds: StoreKind[] = [
    {
      name: 'lowdb',
      open: async (dir, init = {}) => openStore(dir, init),
      cleanup: async () => {}
    }
  ]
  if (TEST_PG === undefined) {
    if (!told) {
      told = true
      process.stderr.write(
        'SKIPPED: PostgreSQL store runs (TALEUS_TEST_PG is not set; .ci/run sets it after starting PostgreSQL)\n'
      )
    }
    return kinds
  }
  const url = TEST_PG
  const schemas: string[] = []
  kinds.push({
    name: 'postgres',
    open: async (dir, init = {}) => {
      const schema = freshSchema()
      schemas.push(schema)
      return openPgStore({ url, dataDir: dir, schema, auditFlushMs: 10, ...init })
    },
    cleanup: async () => dropSchemas(url, schemas.splice(0))
  })
  return kinds
}

/** A schema name no other test uses. */
export function freshSchema(): string {
  return `t_${randomBytes(6).toString('hex')}`
}

/** Drop test schemas (and everything in them). */
export async function dropSchemas(url: string, schemas: string[]): Promise<void> {
  if (schemas.length === 0) return
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  } finally {
    await client.end()
  }
}
