/**
 * Operator-facing store features on both stores (where they use only the MerchantStore interface):
 * archiving, operator records in the audit trail, the trail's hash chain, a tally's full record, and the
 * grant a provisioner hands out (issue I: derived, never stored).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { HookContext, SessionEvent } from '../../main/bootstrap/types.ts'
import { deriveGrant } from '../../main/tallydb/grant.ts'
import { TEST_PG, storeKinds } from '../helpers/stores.ts'
import type { TestStore } from '../helpers/stores.ts'

const A = { peerId: 'peer-A', multiaddrs: () => ['/ip4/127.0.0.1/tcp/4001/p2p/peer-A'] }

function ctx(sessionId: string): HookContext {
  return { sessionId, direction: 'inbound', remotePeerId: 'peer-B', signal: new AbortController().signal }
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    return (err as Error).name
  }
  throw new Error('expected a rejection')
}

describe.each(storeKinds())('store operator features ($name)', (kind) => {
  let dir: string
  let store: TestStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-store-ops-'))
    store = await kind.open(dir)
  })

  afterEach(async () => {
    await store.close()
    await kind.cleanup()
    await rm(dir, { recursive: true, force: true })
  })

  it('archives only a token that can no longer be used', async () => {
    const { view } = await store.createToken({ role: 'stock' })
    expect(await rejection(store.archiveToken!(view.tokenId))).toBe('StoreInputError')
    expect(await rejection(store.archiveToken!('tk_missing'))).toBe('UnknownTokenError')
    await store.revokeToken(view.tokenId)
    expect(await store.archiveToken!(view.tokenId)).toMatchObject({ archived: true, status: 'revoked' })
    expect(store.getToken(view.tokenId)?.archived).toBe(true)
  })

  it('operator records join the trail and the hash chain verifies; the grant is derived and never stored', async () => {
    const hooks = store.hooks(A)
    const event: SessionEvent = {
      sessionId: 's1',
      direction: 'inbound',
      state: 'L_PROCESS_CONTACT',
      previousState: null,
      at: 1000,
      peerId: 'peer-B'
    }
    await hooks.logSessionEvent!('s1', event)
    store.recordOperation!({ op: 'token-create', actor: 'cli', at: 1001, tokenId: 'tk_x' })
    const ops = await store.queryAuditRecords!((r) => r.op === 'token-create', 10)
    expect(ops).toEqual([expect.objectContaining({ op: 'token-create', actor: 'cli', tokenId: 'tk_x' })])
    // operator records are not session events
    expect((await store.queryAudit({ limit: 10 })).map((e) => e.state)).toEqual(['L_PROCESS_CONTACT'])
    const report = await store.verifyAudit!()
    expect(report).toMatchObject({ ok: true })
    expect(report.records).toBeGreaterThanOrEqual(2)

    const { tally, dbConnectionInfo } = await hooks.provisionDatabase(
      'stock',
      'peer-B',
      'peer-A',
      'p1',
      ctx('p1')
    )
    expect(dbConnectionInfo.credentials).toBe(deriveGrant(store.grantKey!(), tally.tallyId, 'peer-B'))
    const full = store.getTally!(tally.tallyId) as { dbConnectionInfo: { credentials: string } } | undefined
    expect(full?.dbConnectionInfo.credentials).toBe('')
  })

  // the table's own tamper case; lowdb's files are tampered with in audit-chain.test.ts
  if (kind.name === 'postgres')
    it('a record altered in the table breaks the chain at that record', async () => {
      const hooks = store.hooks(A)
      for (let i = 0; i < 3; i++)
        await hooks.logSessionEvent!(`s${i}`, {
          sessionId: `s${i}`,
          direction: 'inbound',
          state: 'L_PROCESS_CONTACT',
          previousState: null,
          at: 1000 + i,
          peerId: 'peer-B'
        })
      expect((await store.verifyAudit!()).ok).toBe(true)
      const schema = (store as unknown as { schema: string }).schema
      const db = new pg.Client({ connectionString: TEST_PG, options: `-c search_path=${schema}` })
      await db.connect()
      try {
        await db.query(`UPDATE audit SET body = replace(body, 'peer-B', 'peer-C') WHERE session_id = 's1'`)
      } finally {
        await db.end()
      }
      const report = await store.verifyAudit!()
      expect(report.ok).toBe(false)
      expect(report.firstBreak).toMatchObject({ line: 2, reason: 'the record was altered' })
    })
})
