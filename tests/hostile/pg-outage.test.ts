/**
 * The cadre's PostgreSQL server refusing writes (its disk full: SQLSTATE 53100, injected by a trigger on
 * this test's own schema) and going away mid-rush (every connection cut and new ones refused, through a
 * TCP proxy in this process so no one else's connections are touched), then coming back. The PostgreSQL
 * counterpart of durability.test.ts's full local disk: the node answers `busy`, loses nothing (tallies,
 * audit records), leaves no draft, and serves again without a restart. Needs TALEUS_TEST_PG.
 */
import type { Libp2p } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionManager, VerdictService } from '../../main/bootstrap/index.ts'
import type { BootstrapLink, BootstrapResult } from '../../main/bootstrap/index.ts'
import { openPgStore } from '../../main/store/pg/index.ts'
import { TEST_PG, dropSchemas, freshSchema } from '../helpers/stores.ts'
import type { StoreKind, TestStore } from '../helpers/stores.ts'
import { MemoryHooks } from '../integration/protocol-helpers.ts'
import { eventually } from './cadre-process.ts'
import {
  SecretWatch,
  dialerNodes,
  pgStoreOf,
  schemaTexts,
  startStoreListener,
  withSchema
} from './helpers.ts'
import type { StoreListener } from './helpers.ts'
import { PgProxy } from './pg-proxy.ts'

if (TEST_PG === undefined)
  process.stderr.write('SKIPPED tests/hostile/pg-outage.test.ts: TALEUS_TEST_PG is not set\n')

/** How one dialer's bootstrap ended. */
interface Outcome {
  hooks: MemoryHooks
  /** Tallies A announced to this customer. */
  told: string[]
  result?: BootstrapResult
  error?: { name: string; reason?: string }
}

describe.skipIf(TEST_PG === undefined)('the cadre database refusing writes, then going away mid-rush', () => {
  const schema = freshSchema()
  const watch = new SecretWatch()
  let proxy: PgProxy
  let A: StoreListener
  let dialers: Libp2p[] = []
  let link: BootstrapLink

  beforeAll(async () => {
    proxy = await PgProxy.start(TEST_PG as string)
    const kind: StoreKind = {
      name: 'postgres',
      open: async (dir, init = {}) =>
        (await openPgStore({
          url: proxy.url,
          dataDir: dir,
          schema,
          auditFlushMs: 10,
          connectTimeoutMs: 2000,
          ...init
        })) as TestStore,
      cleanup: async () => {}
    }
    A = await startStoreListener({ kind, stepTimeoutMs: 10_000, sessionTimeoutMs: 30_000 })
    dialers = await dialerNodes(8)
    const { token } = await A.store.createToken({ role: 'stock', uses: 'unlimited' })
    watch.secret(token)
    link = { token, role: 'stock', responderPeerAddrs: [A.addr()] }
  })

  afterAll(async () => {
    await Promise.all(dialers.map((d) => d.stop()))
    await proxy?.restore().catch(() => {})
    await A?.close()
    await proxy?.stop()
    await dropSchemas(TEST_PG as string, [schema])
  })

  let n = 0
  /** One customer's bootstrap; `hold` keeps it inside validateResponse (A's draft written) until released. */
  async function customer(hold?: { count: () => void; until: Promise<void> }): Promise<Outcome> {
    const i = n++
    const hooks = new MemoryHooks(`B${i}`)
    const told: string[] = []
    if (hold !== undefined)
      hooks.override.validateResponse = async (response: {
        provisionResult?: { tally: { tallyId: string } }
      }) => {
        if (response.provisionResult !== undefined) told.push(response.provisionResult.tally.tallyId)
        hold.count()
        await hold.until
        return true
      }
    try {
      const result = await new SessionManager(hooks, {
        stepTimeoutMs: 20_000,
        sessionTimeoutMs: 40_000
      }).initiateBootstrap(link, dialers[i % dialers.length]!)
      watch.secret(result.dbConnectionInfo.credentials)
      return { hooks, told: [...told, ...hooks.tallies.keys()], result }
    } catch (err) {
      watch.error('dialer', err)
      return {
        hooks,
        told: [...told, ...hooks.tallies.keys()],
        error: { name: (err as Error).name, reason: (err as { reason?: string }).reason }
      }
    }
  }

  const rows = async (): Promise<Map<string, { status: string; session: string }>> =>
    withSchema(schema, async (db) => {
      const r = await db.query<{ tally_id: string; status: string; session_id: string }>(
        'SELECT tally_id, status, session_id FROM tallies'
      )
      return new Map(r.rows.map((x) => [x.tally_id, { status: x.status, session: x.session_id }]))
    })

  it('busy while it is away or full, nothing lost, no draft left, serving again once it is back', async () => {
    const before = await Promise.all(Array.from({ length: 8 }, async () => customer()))
    expect(before.filter((o) => o.result === undefined)).toEqual([])

    // the server's disk is full: every write of a tally fails with disk_full (53100)
    await withSchema(schema, async (db) => {
      await db.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$`)
      await db.query('CREATE TRIGGER full_disk BEFORE INSERT OR UPDATE ON tallies EXECUTE FUNCTION refuse()')
    })
    const full = await Promise.all(Array.from({ length: 6 }, async () => customer()))
    expect(full.map((o) => o.error)).toEqual(full.map(() => ({ name: 'RejectedError', reason: 'busy' })))
    await withSchema(schema, async (db) => db.query('DROP TRIGGER full_disk ON tallies'))

    // mid-rush: 8 customers hold A's response (their drafts are in the table), then the server goes away
    let held = 0
    let allHeld: () => void = () => {}
    const heldAll = new Promise<void>((res) => (allHeld = res))
    let release: () => void = () => {}
    const until = new Promise<void>((res) => (release = res))
    const inFlight = Array.from({ length: 8 }, async () =>
      customer({ count: () => ++held === 8 && allHeld(), until })
    )
    await heldAll
    await proxy.cut()
    const away = await Promise.all(Array.from({ length: 6 }, async () => customer()))
    release()
    const cut = await Promise.all(inFlight)
    expect(away.map((o) => o.error)).toEqual(away.map(() => ({ name: 'RejectedError', reason: 'busy' })))

    // back: the node serves again, without a restart
    await proxy.restore()
    const after = await Promise.all(Array.from({ length: 8 }, async () => customer()))
    expect(after.filter((o) => o.result === undefined).map((o) => o.error)).toEqual([])

    // no draft outlives the outage: the sessions that failed meanwhile are abandoned once it is back
    const table = await eventually(async () => {
      const t = await rows()
      return [...t.values()].some((r) => r.status === 'draft') ? undefined : t
    }, 30_000)
    const successes = [...before, ...cut, ...after].flatMap((o) => (o.result === undefined ? [] : [o.result]))
    for (const r of successes) expect(table.get(r.tally.tallyId)?.status, r.tally.tallyId).toBe('confirmed')
    // none lost: every tally a customer was told of is in the table; none double: one per session
    const told = [...before, ...full, ...cut, ...away, ...after].flatMap((o) => o.told)
    expect(cut.every((o) => o.told.length === 1)).toBe(true)
    expect(told.filter((id) => !table.has(id))).toEqual([])
    expect(new Set([...table.values()].map((r) => r.session)).size).toBe(table.size)
    // a customer left holding its tally pending asks A (issue H) and hears what the table holds
    const answerer = new VerdictService({
      lookupVerdict: async (tallyId, peer) => pgStoreOf(A).verdictFor(tallyId, peer)
    })
    await answerer.start(A.node)
    const asker = new VerdictService({ lookupVerdict: async () => undefined })
    let asked = 0
    for (const [i, o] of cut.entries()) {
      const id = o.told[0]
      if (o.result !== undefined || id === undefined) continue
      // what the customer's own record says: pending (it sent its Ack; A's verdict never came)
      expect(o.hooks.calls.filter((c) => c.startsWith('settleTally:')).at(-1)).toBe('settleTally:pending')
      asked++
      const answer = await asker.ask(
        dialers[i % dialers.length]!,
        { peerId: A.peerId, addrs: [A.addr()] },
        id,
        {
          signal: AbortSignal.timeout(20_000)
        }
      )
      // the verdict exchange answers a tally that is not confirmed as refused (docs/protocol.md)
      const heard = answer === 'confirmed' ? 'confirmed' : answer === 'unsettled' ? 'draft' : 'abandoned'
      expect(heard, id).toBe(table.get(id)?.status)
    }
    await answerer.stop()
    // every session's events reached the trail, those of the outage too (kept until it was back)
    const sessions = new Set(A.events.map((e) => e.sessionId))
    const audited = await eventually(async () => {
      const r = await withSchema(schema, async (db) =>
        db.query<{ session_id: string }>('SELECT DISTINCT session_id FROM audit')
      )
      const got = new Set(r.rows.map((x) => x.session_id))
      return [...sessions].every((s) => got.has(s)) ? got : undefined
    }, 30_000)
    expect([...sessions].filter((s) => !audited.has(s))).toEqual([])
    // the node's own view caught up (its LISTEN connection came back and reloaded)
    await eventually(async () =>
      A.store.listTallies().every((t) => t.status === table.get(t.tallyId)?.status) ? true : undefined
    )
    console.info(
      `cadre database away: ${before.length + after.length} served before and after, ` +
        `${full.length} busy while its disk was full, ${away.length} busy while it was gone; ` +
        `${cut.filter((o) => o.result !== undefined).length}/${cut.length} held mid-flow succeeded, ${asked} asked A ` +
        `and agree; ${table.size} tallies (${[...table.values()].filter((r) => r.status === 'confirmed').length} confirmed), 0 drafts`
    )
    await A.store.close()
    await watch.folder(A.dir)
    for (const t of await schemaTexts(schema)) watch.text(t.source, t.text)
    expect(watch.leaks()).toEqual([])
  })
})
