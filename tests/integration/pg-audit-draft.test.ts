/**
 * On PostgreSQL a draft carries its session's pending audit records in its own INSERT (one round trip and
 * one commit): the records and the tally row are written by the same transaction, and a batch the
 * database refuses does not fail the draft. Needs TALEUS_TEST_PG; skipped (and says so) without it.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { HookContext, SessionEvent } from '../../main/bootstrap/types.ts'
import { openPgStore } from '../../main/store/pg/index.ts'
import type { PgMerchantStore } from '../../main/store/pg/index.ts'
import { tokenCtx } from '../helpers/hook-context.ts'
import { dropSchemas, freshSchema } from '../helpers/stores.ts'

const PG = process.env.TALEUS_TEST_PG
if (PG === undefined)
  process.stderr.write('SKIPPED tests/integration/pg-audit-draft.test.ts: TALEUS_TEST_PG is not set\n')

const A = { peerId: 'merchant', multiaddrs: () => ['/ip4/127.0.0.1/tcp/4001/p2p/merchant'] }

function ctx(sessionId: string): HookContext {
  return { sessionId, direction: 'inbound', remotePeerId: 'customer', signal: new AbortController().signal }
}

function event(sessionId: string, state: string, previousState: string | null, at: number): SessionEvent {
  return { sessionId, direction: 'inbound', state, previousState, at } as unknown as SessionEvent
}

describe.skipIf(PG === undefined)('a draft and its audit records on PostgreSQL', () => {
  let schema: string
  let dir: string
  let store: PgMerchantStore
  let client: pg.Client

  beforeEach(async () => {
    schema = freshSchema()
    dir = await mkdtemp(join(tmpdir(), 'taleus-pgad-'))
    // the timer would flush on its own after a minute: what is in the table came with the draft
    store = await openPgStore({ url: PG as string, dataDir: dir, schema, node: 'n1', auditFlushMs: 60_000 })
    client = new pg.Client({ connectionString: PG })
    await client.connect()
    await client.query(`SET search_path TO "${schema}"`)
  })

  afterEach(async () => {
    await client.end()
    await store.close()
    await dropSchemas(PG as string, [schema])
    await rm(dir, { recursive: true, force: true })
  })

  /** A session past its token check, ready to provision its draft. */
  async function prepared(sessionId: string): Promise<() => Promise<string>> {
    const { token } = await store.createToken({ role: 'stock', uses: 'unlimited' })
    const hooks = store.hooks(A)
    hooks.logSessionEvent?.(sessionId, event(sessionId, 'L_LISTENING', null, 1))
    const info = await hooks.validateToken(token, ctx(sessionId))
    hooks.logSessionEvent?.(sessionId, event(sessionId, 'L_PROVISIONING', 'L_LISTENING', 2))
    return async () => {
      const { tally } = await hooks.provisionDatabase(
        'stock',
        'customer',
        'merchant',
        sessionId,
        tokenCtx(ctx(sessionId), info)
      )
      return tally.tallyId
    }
  }

  async function draft(sessionId: string): Promise<string> {
    return (await prepared(sessionId))()
  }

  /**
   * Runs `first`, holds its INSERT in flight with a lock on the tallies table (a second connection) until
   * it waits on that lock, then starts `rest` (they queue behind it) and releases: the order the test
   * needs, whatever the machine's load.
   */
  async function behindOneInFlight<T>(first: () => Promise<T>, rest: Array<() => Promise<T>>): Promise<T[]> {
    const locker = new pg.Client({ connectionString: PG })
    await locker.connect()
    await locker.query(`SET search_path TO "${schema}"`)
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE tallies IN EXCLUSIVE MODE')
    try {
      const head = first()
      const waiting = async (): Promise<number> =>
        (
          await client.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_locks WHERE relation = $1::regclass AND NOT granted',
            [`"${schema}".tallies`]
          )
        ).rows[0]!.n
      for (let i = 0; i < 1500 && (await waiting()) === 0; i++) await new Promise((r) => setTimeout(r, 20))
      expect(await waiting()).toBe(1)
      const tail = rest.map((run) => run())
      // the rest reach the queue after a few hooks' turns (no I/O before it)
      await new Promise((r) => setTimeout(r, 300))
      await locker.query('COMMIT')
      return await Promise.all([head, ...tail])
    } finally {
      await locker.end()
    }
  }

  it("the session's records are written by the draft's own transaction, and the chain holds", async () => {
    const tallyId = await draft('s1')
    const row = await client.query<{ xmin: string }>('SELECT xmin FROM tallies WHERE tally_id = $1', [
      tallyId
    ])
    const audit = await client.query<{ xmin: string }>(
      'SELECT DISTINCT xmin FROM audit WHERE session_id = $1',
      ['s1']
    )
    expect(audit.rows.map((r) => r.xmin)).toEqual([row.rows[0]?.xmin])
    // a second draft chains on from the first one's head
    await draft('s2')
    expect((await store.verifyAudit()).ok).toBe(true)
  })

  it('drafts queued behind a write in flight go as one statement, with the records', async () => {
    const runs = await Promise.all(Array.from({ length: 12 }, async (_, i) => prepared(`q${i}`)))
    const ids = await behindOneInFlight(runs[0]!, runs.slice(1))
    const rows = await client.query<{ xmin: string }>(
      'SELECT DISTINCT xmin FROM tallies WHERE tally_id = ANY($1)',
      [ids]
    )
    // the first alone, the eleven queued behind it together
    expect(rows.rowCount).toBe(2)
    expect((await client.query('SELECT 1 FROM tallies WHERE tally_id = ANY($1)', [ids])).rowCount).toBe(12)
    expect((await store.verifyAudit()).ok).toBe(true)
  })

  it('a duplicate id among drafts queued together fails its own session only', async () => {
    const B = { peerId: 'customer', multiaddrs: () => [] }
    const hooks = store.hooks(B)
    const response = (tallyId: string): unknown => ({
      approved: true,
      role: 'stock',
      partyId: 'merchant',
      cadrePeerAddrs: [],
      provisionResult: {
        tally: {
          tallyId,
          createdBy: 'stock',
          initiatorPeerId: 'customer',
          respondentPeerId: 'merchant',
          createdAt: new Date().toISOString()
        },
        dbConnectionInfo: { nodes: ['/ip4/127.0.0.1/tcp/1'], credentials: 'grant' }
      }
    })
    const outbound = (sessionId: string): HookContext => ({
      sessionId,
      direction: 'outbound',
      remotePeerId: 'merchant',
      signal: new AbortController().signal
    })
    // a first draft in flight; the three below queue behind it and go as one statement, which the
    // duplicate makes fail: each then runs alone
    const first = await prepared('d0')
    const [, ...results] = await behindOneInFlight<unknown>(first, [
      async () => hooks.validateResponse!(response('T-dup') as never, outbound('o1')),
      async () => hooks.validateResponse!(response('T-dup') as never, outbound('o2')),
      async () => hooks.validateResponse!(response('T-ok') as never, outbound('o3'))
    ])
    expect(results[0] !== results[1]).toBe(true)
    expect(results[2]).toBe(true)
    // T-ok was written by its own statement after the combined one failed, not with the first draft
    const xmins = await client.query(
      "SELECT DISTINCT xmin FROM tallies WHERE tally_id IN ('T-dup', 'T-ok') OR session_id = 'd0'"
    )
    expect(xmins.rowCount).toBe(3)
    const held = await client.query("SELECT tally_id FROM tallies WHERE tally_id IN ('T-dup', 'T-ok')")
    expect(held.rowCount).toBe(2)
  })

  it('a batch the database refuses does not fail the draft, and stays queued', async () => {
    // jsonb cannot hold \u0000: the whole batch is refused
    store.recordOperation({ op: 'test', actor: { kind: 'cli' }, at: 1, detail: { bad: 'a\u0000b' } } as never)
    const tallyId = await draft('s3')
    expect((await client.query('SELECT 1 FROM tallies WHERE tally_id = $1', [tallyId])).rowCount).toBe(1)
    expect((await client.query("SELECT 1 FROM audit WHERE session_id = 's3'")).rowCount).toBe(0)
  })
})
