/**
 * Three PgMerchantStores on one schema, as three cadre nodes see it: a revocation on one is seen by the
 * others before they answer, a decision from any node applies once, and each node's mirror follows the
 * others. Needs TALEUS_TEST_PG; skipped (and says so) without it.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { HookContext } from '../../main/bootstrap/types.ts'
import { openPgStore } from '../../main/store/pg/index.ts'
import type { PgMerchantStore } from '../../main/store/pg/index.ts'
import { Displays } from '../../main/service/displays.ts'
import type { TokenView } from '../../main/views/console-views.ts'
import { tokenCtx } from '../helpers/hook-context.ts'
import { dropSchemas, freshSchema } from '../helpers/stores.ts'

const PG = process.env.TALEUS_TEST_PG
if (PG === undefined)
  process.stderr.write('SKIPPED tests/integration/pg-cadre-store.test.ts: TALEUS_TEST_PG is not set\n')

const A = { peerId: 'merchant', multiaddrs: () => ['/ip4/127.0.0.1/tcp/4001/p2p/merchant'] }

function ctx(sessionId: string, signal = new AbortController().signal): HookContext {
  return { sessionId, direction: 'inbound', remotePeerId: 'customer', signal }
}

async function rejection(p: Promise<unknown>): Promise<{ name: string; reason?: string }> {
  try {
    await p
  } catch (err) {
    return { name: (err as Error).name, reason: (err as { reason?: string }).reason }
  }
  throw new Error('expected a rejection')
}

async function until(probe: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !probe(); i++) await new Promise((r) => setTimeout(r, 50))
  expect(probe()).toBe(true)
}

describe.skipIf(PG === undefined)('cadre stores on one PostgreSQL schema', () => {
  let schema: string
  let dirs: string[]
  let nodes: PgMerchantStore[]

  beforeEach(async () => {
    schema = freshSchema()
    dirs = await Promise.all([1, 2, 3].map(async (i) => mkdtemp(join(tmpdir(), `taleus-pgc-${i}-`))))
    nodes = await Promise.all(
      dirs.map(async (dir, i) =>
        openPgStore({ url: PG as string, dataDir: dir, schema, node: `n${i + 1}`, auditFlushMs: 10 })
      )
    )
  })

  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.close()))
    await dropSchemas(PG as string, [schema])
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
  })

  it('a token created on one node is valid on the others at once; the cadre shares one token secret', async () => {
    const { view, token } = await nodes[0]!.createToken({ role: 'stock', uses: 2 })
    // node 3 may not have had the notification yet: it looks the token up in the table
    const info = await nodes[2]!.hooks(A).validateToken(token, ctx('s1'))
    expect(info?.tokenId).toBe(view.tokenId)
    await until(() => nodes[1]!.getToken(view.tokenId) !== undefined)
    expect(nodes[1]!.tokenSecret(view.tokenId)).toBe(token)
  })

  it('revoked on node 1: no tally of it is confirmed on node 2 from that moment, and node 2 refuses its next use once told', async () => {
    const { view, token } = await nodes[0]!.createToken({ role: 'stock', uses: 'unlimited' })
    const hooks = nodes[1]!.hooks(A)
    const info = await hooks.validateToken(token, ctx('late'))
    await hooks.markTokenUsed!('t', 'late', tokenCtx(ctx('late'), info))
    const { tally } = await hooks.provisionDatabase('stock', 'customer', 'merchant', 'late', ctx('late'))
    const info2 = await hooks.validateToken(token, ctx('next'))
    const seen: boolean[] = []
    nodes[1]!.addEventListener('token', (e) => seen.push(e.detail.revoked))

    const info3 = await hooks.validateToken(token, ctx('racing'))
    await nodes[0]!.revokeToken(view.tokenId)
    // a session that starts now, before node 2 is told: refused at its use, or else at its confirmation
    const racing = await hooks.markTokenUsed!('t', 'racing', tokenCtx(ctx('racing'), info3)).then(
      () => undefined,
      (err: { name: string; reason?: string }) => ({ name: err.name, reason: err.reason })
    )
    if (racing === undefined) {
      const drafted = await hooks.provisionDatabase('stock', 'customer2', 'merchant', 'racing', ctx('racing'))
      expect(await rejection(hooks.settleTally!(drafted.tally.tallyId, 'confirmed', ctx('racing')))).toEqual({
        name: 'RejectedError',
        reason: 'token-revoked'
      })
    } else {
      expect(racing).toEqual({ name: 'RejectedError', reason: 'token-revoked' })
    }
    // no wait for any notification: the confirmation is one statement that checks the token
    expect(await rejection(hooks.settleTally!(tally.tallyId, 'confirmed', ctx('late')))).toEqual({
      name: 'RejectedError',
      reason: 'token-revoked'
    })
    await hooks.settleTally!(tally.tallyId, 'abandoned', ctx('late'))
    // node 2 is told, so its console (and its in-flight sessions) learn of it, and its next use is refused
    await until(() => seen.includes(true))
    expect(await rejection(hooks.markTokenUsed!('t', 'next', tokenCtx(ctx('next'), info2)))).toEqual({
      name: 'RejectedError',
      reason: 'token-revoked'
    })
    await until(() =>
      nodes[2]!.listTallies().some((t) => t.tallyId === tally.tallyId && t.status === 'abandoned')
    )
  })

  it('an approval waiting on node 1 is listed everywhere and decided once, whichever consoles race', async () => {
    const { token } = await nodes[0]!.createToken({ role: 'stock', approval: 'operator', label: 'desk' })
    const hooks = nodes[0]!.hooks(A)
    const info = await hooks.validateToken(token, ctx('op'))
    const waiting = hooks.validateIdentity!({ name: 'Ann' }, undefined, tokenCtx(ctx('op'), info)).then(
      () => 'approve',
      (err: { reason?: string }) => err.reason
    )
    await until(() => nodes[2]!.listApprovals().length === 1 && nodes[1]!.listApprovals().length === 1)
    expect(nodes[2]!.listApprovals()[0]).toMatchObject({ sessionId: 'op', node: 'n1', tokenLabel: 'desk' })
    const results = await Promise.all([
      nodes[1]!.decide('op', 'reject'),
      nodes[2]!.decide('op', 'approve'),
      nodes[2]!.decide('op', 'reject')
    ])
    expect(results.filter((r) => r.applied)).toHaveLength(1)
    const winner = results.find((r) => r.applied)!.decision
    expect(await waiting).toBe(winner === 'approve' ? 'approve' : 'identity-rejected')
    await until(() => nodes.every((n) => n.listApprovals().length === 0))
  })

  it('drafts of a node gone silent are abandoned by another node’s recover(); a live node’s are left alone', async () => {
    const { token } = await nodes[1]!.createToken({ role: 'stock', uses: 'unlimited' })
    const hooks = nodes[1]!.hooks(A)
    await hooks.validateToken(token, ctx('d1'))
    const { tally } = await hooks.provisionDatabase('stock', 'customer', 'merchant', 'd1', ctx('d1'))
    expect(await nodes[0]!.recover()).toEqual({ abandoned: 0, pending: 0 })
    // node 2 stops beating (killed, never restarted): its heartbeat is older than staleNodeMs (60 s)
    const db = new pg.Client({ connectionString: PG as string, options: `-c search_path=${schema}` })
    await db.connect()
    try {
      await db.query("UPDATE nodes SET seen_at = now() - interval '2 minutes' WHERE node = 'n2'")
    } finally {
      await db.end()
    }
    expect(await nodes[0]!.recover()).toEqual({ abandoned: 1, pending: 0 })
    await until(() =>
      nodes[2]!.listTallies().some((t) => t.tallyId === tally.tallyId && t.status === 'abandoned')
    )
  })

  it('another node’s session events reach this node as remote-session, with the node that served them', async () => {
    const got: Array<{ sessionId: string; node: string }> = []
    nodes[2]!.addEventListener('remote-session', (e) =>
      got.push({ sessionId: e.detail.sessionId, node: e.detail.node })
    )
    await nodes[0]!.hooks(A).logSessionEvent!('x1', {
      sessionId: 'x1',
      direction: 'inbound',
      state: 'L_PROCESS_CONTACT',
      previousState: null,
      at: Date.now(),
      peerId: 'customer'
    })
    await until(() => got.length === 1)
    expect(got[0]).toEqual({ sessionId: 'x1', node: 'n1' })
    expect(nodes[2]!.listAudit({ sessionId: 'x1' })).toHaveLength(1)
  })

  it('a customer display on node 1 follows what node 2 does to its tokens: the next QR it mints, the customer it serves', async () => {
    const [n1, n2] = nodes as [PgMerchantStore, PgMerchantStore, PgMerchantStore]
    const displays = new Displays({ store: () => n1, linkFor: () => 'taleus:test', push: () => {} })
    n1.addEventListener('token', (e) => displays.onToken((e as CustomEvent<TokenView>).detail))
    const { view: first, token } = await n1.createToken({
      role: 'stock',
      label: 'Till',
      mode: 'per-customer'
    })
    const displayId = first.displayId as string
    expect(displays.get(displayId)).toMatchObject({ tokenId: first.tokenId, served: 0 })

    // node 2 serves the customer on the display's QR
    const hooks = n2.hooks(A)
    const info = await hooks.validateToken(token, ctx('d1'))
    await hooks.markTokenUsed!('token-text', 'd1', tokenCtx(ctx('d1'), info))
    await until(() => displays.get(displayId).served === 1)

    // and mints the display's next QR
    const { view: next } = await n2.createToken({
      role: 'stock',
      label: 'Till',
      mode: 'per-customer',
      displayId
    } as never)
    await until(() => displays.get(displayId).tokenId === next.tokenId)
    expect(displays.get(displayId)).toMatchObject({ served: 1, closed: false })
  })
})
