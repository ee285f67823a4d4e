/**
 * The operator's API over a real console service and HTTP (issue G): every operator action in the audit
 * trail with who did it, the chain check, a tally's page, list filters, export, archiving, a customer
 * display that advances by itself, and session history that survives a restart.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSecret } from '../../main/api/auth.ts'
import { startApiServer, type ApiServer } from '../../main/api/http-server.ts'
import { createConsoleService, type ConsoleService } from '../../main/service/index.ts'
import type {
  AuditVerifyResult,
  CreatedToken,
  DisplayView,
  ExportResult,
  OperationView,
  SessionView,
  TallyDetail,
  TallyView,
  TokenView
} from '../../preload/contract.ts'
import { apiCall, type ApiReply } from '../helpers/api-call.ts'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  // a guard against hangs only: generous on a loaded machine
  const deadline = Date.now() + 30_000
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('operator API: audit trail, tally page, filters, export, displays, history', () => {
  let dirA: string
  let dirB: string
  let a: ConsoleService
  let b: ConsoleService
  let api: ApiServer
  const secret = createSecret()

  const call = <T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    actor?: string
  ): Promise<ApiReply<T>> => apiCall<T>(api.url, secret, method, path, body, actor)

  async function startA(): Promise<void> {
    a = await createConsoleService({ dataDir: dirA, listen: LISTEN, mdns: false, actor: 'cli' })
    await a.start()
    api = await startApiServer({ api: a, secret })
  }

  /** B dials `link` as Ann; with `approve`, the operator approves through the browser console. */
  async function dialAsAnn(link: string, approve: boolean): Promise<string> {
    const { sessionId } = await b.dial({ link, identity: { name: 'Ann', email: 'ann@example.org' } })
    if (approve) {
      const waiting = await until(() => a.listApprovals().then((list) => list[0]), 'the approval on A')
      const decided = await call('POST', '/api/approvals/decide', {
        sessionId: waiting.sessionId,
        decision: 'approve'
      })
      expect(decided.status).toBe(200)
    }
    const outcome = await b.waitDial({ sessionId })
    if (!outcome.ok) throw new Error(`dial failed: ${outcome.reason}`)
    return outcome.tallyId
  }

  beforeAll(async () => {
    dirA = await mkdtemp(join(tmpdir(), 'taleus-op-a-'))
    dirB = await mkdtemp(join(tmpdir(), 'taleus-op-b-'))
    b = await createConsoleService({ dataDir: dirB, listen: LISTEN, mdns: false })
    await b.start()
    await startA()
  })

  afterAll(async () => {
    await api?.close().catch(() => {})
    await Promise.allSettled([a?.stop(), b?.stop()])
    await rm(dirA, { recursive: true, force: true })
    await rm(dirB, { recursive: true, force: true })
  })

  it('records token create and revoke, approvals and exports with who did them; an unknown session is 404', async () => {
    const byCli = await call<CreatedToken>('POST', '/api/tokens', { role: 'stock', label: 'cli' }, 'cli')
    const byBrowser = await call<CreatedToken>('POST', '/api/tokens', { role: 'stock', label: 'web' })
    expect(byCli.status).toBe(200)
    await call('POST', '/api/tokens/revoke', { tokenId: byBrowser.json.tokenId })
    const nosuch = await call<{ error: { code: string } }>('POST', '/api/approvals/decide', {
      sessionId: 'nosuch',
      decision: 'approve'
    })
    expect(nosuch.status).toBe(404)
    expect(nosuch.json.error.code).toBe('unknown-session')

    const ops = (await call<OperationView[]>('GET', '/api/audit/operations')).json
    const find = (op: string, tokenId?: string): OperationView | undefined =>
      ops.find((o) => o.op === op && (tokenId === undefined || o.tokenId === tokenId))
    expect(find('node-start')?.actor).toBe('cli')
    expect(find('token-create', byCli.json.tokenId)?.actor).toBe('cli')
    expect(find('token-create', byBrowser.json.tokenId)?.actor).toBe('browser')
    expect(find('token-revoke', byBrowser.json.tokenId)?.actor).toBe('browser')
    // never a token's text in the trail
    expect(JSON.stringify(ops)).not.toContain(byCli.json.link)

    const verified = await call<AuditVerifyResult>('GET', '/api/audit/verify')
    expect(verified.json).toMatchObject({ ok: true, anchored: true })
    expect(verified.json.records).toBeGreaterThan(3)
  })

  it('a tally page: timeline, counterparty, token, status history and what the customer was told', async () => {
    const token = (
      await call<CreatedToken>('POST', '/api/tokens', {
        role: 'stock',
        label: 'Counter 1',
        approval: 'operator',
        identityRequirements: ['name']
      })
    ).json
    const tallyId = await dialAsAnn(token.link, true)
    const tally = await until(
      () => a.listTallies().then((l) => l.find((t) => t.tallyId === tallyId && t.status === 'confirmed')),
      'the confirmed tally on A'
    )
    const page = await call<TallyDetail>('GET', `/api/tallies/detail?tallyId=${encodeURIComponent(tallyId)}`)
    expect(page.status).toBe(200)
    const d = page.json
    expect(d.tally.tallyId).toBe(tally.tallyId)
    expect(d.token?.tokenId).toBe(token.tokenId)
    expect(d.counterpartyIdentity).toMatchObject({ name: 'Ann' })
    expect(d.statusHistory.map((s) => s.status)).toEqual(['draft', 'confirmed'])
    expect(d.timeline.some((e) => e.kind === 'operator' && e.op === 'approve' && e.actor === 'browser')).toBe(
      true
    )
    expect(d.timeline.some((e) => e.kind === 'session' && e.state === 'L_DONE')).toBe(true)
    expect(d.told.some((t) => t.decision === 'approve')).toBe(true)
    expect(d.roleText).toMatch(/You are the stock/)
    expect(JSON.stringify(d)).not.toMatch(/credentials/)

    const missing = await call('GET', '/api/tallies/detail?tallyId=nope')
    expect(missing.status).toBe(404)
  })

  it('filters tallies and tokens, exports the filtered rows (recorded), archives only ended tokens', async () => {
    const all = (await call<TallyView[]>('GET', '/api/tallies')).json
    expect(all.length).toBeGreaterThan(0)
    const byName = (await call<TallyView[]>('GET', '/api/tallies?q=ann')).json
    expect(byName.length).toBe(all.length)
    expect((await call<TallyView[]>('GET', '/api/tallies?q=nobody-like-this')).json).toHaveLength(0)
    const future = Date.now() + 86_400_000
    expect((await call<TallyView[]>('GET', `/api/tallies?from=${future}`)).json).toHaveLength(0)
    expect((await call<TallyView[]>('GET', `/api/tallies?to=${future}&status=confirmed`)).json.length).toBe(
      all.filter((t) => t.status === 'confirmed').length
    )

    const csv = await call<ExportResult>('POST', '/api/export', {
      what: 'tallies',
      format: 'csv',
      query: { q: 'ann' }
    })
    expect(csv.status).toBe(200)
    expect(csv.json.rows).toBe(byName.length)
    // the columns the Tallies screen shows (main/views/export-columns.ts), not raw field names
    expect(csv.json.content.split('\r\n')[0]).toMatch(/^"Tally","Status","Counterparty","Counterparty name"/)
    const ops = (await call<OperationView[]>('GET', '/api/audit/operations')).json
    expect(ops.find((o) => o.op === 'export')?.detail).toMatchObject({ what: 'tallies', rows: byName.length })

    const active = (await call<CreatedToken>('POST', '/api/tokens', { role: 'foil', label: '=cmd|x' })).json
    const refused = await call<{ error: { code: string } }>('POST', '/api/tokens/archive', {
      tokenId: active.tokenId
    })
    expect(refused.status).toBe(400)
    await call('POST', '/api/tokens/revoke', { tokenId: active.tokenId })
    const archived = await call<TokenView>('POST', '/api/tokens/archive', { tokenId: active.tokenId })
    expect(archived.json.archived).toBe(true)
    const visible = (await call<TokenView[]>('GET', '/api/tokens')).json
    expect(visible.some((t) => t.tokenId === active.tokenId)).toBe(false)
    const withArchived = (await call<TokenView[]>('GET', '/api/tokens?archived=true')).json
    expect(withArchived.some((t) => t.tokenId === active.tokenId)).toBe(true)
    expect(
      (await call<TokenView[]>('GET', '/api/tokens?q=counter')).json.every((t) => /counter/i.test(t.label))
    ).toBe(true)
    // a spreadsheet never runs a label as a formula
    const tokensCsv = (
      await call<ExportResult>('POST', '/api/export', {
        what: 'tokens',
        format: 'csv',
        query: { archived: true }
      })
    ).json
    expect(tokensCsv.content).toContain("'=cmd|x")
  })

  it('a per-customer display mints the next single-use token by itself once a tally opens', async () => {
    const first = (
      await call<CreatedToken>('POST', '/api/tokens', { role: 'stock', label: 'Till', mode: 'per-customer' })
    ).json
    expect(first.mode).toBe('per-customer')
    expect(first.uses).toBe(1)
    const displayId = first.displayId as string
    const before = (await call<DisplayView>('GET', `/api/display?displayId=${displayId}`)).json
    expect(before).toMatchObject({ tokenId: first.tokenId, phase: 'ready', served: 0 })

    await dialAsAnn(before.link, false)
    const after = await until(async () => {
      const view = (await call<DisplayView>('GET', `/api/display?displayId=${displayId}`)).json
      return view.tokenId !== first.tokenId ? view : undefined
    }, 'the next token of the display')
    expect(after).toMatchObject({ phase: 'open', served: 1 })
    expect(after.customer?.text).toBe('Welcome, Ann — your tally is open')
    expect(after.link).not.toBe(before.link)
    // the used token is archived; the new one is recorded as made by the node
    const used = (await call<TokenView[]>('GET', '/api/tokens?archived=true')).json.find(
      (t) => t.tokenId === first.tokenId
    )
    expect(used).toMatchObject({ status: 'used-up', archived: true })
    // the audit trail writes its lines once per flush window: the display may show the token first
    const made = await until(async () => {
      const ops = (await call<OperationView[]>('GET', '/api/audit/operations')).json
      return ops.find((o) => o.op === 'token-create' && o.tokenId === after.tokenId)
    }, 'the record of the next token')
    expect(made.actor).toBe('system')

    // the next customer uses the next QR
    await dialAsAnn(after.link, false)
    await until(async () => {
      const view = (await call<DisplayView>('GET', `/api/display?displayId=${displayId}`)).json
      return view.served === 2 ? view : undefined
    }, 'the second customer')
    const closed = (await call<DisplayView>('POST', '/api/display/close', { displayId })).json
    expect(closed.closed).toBe(true)
  })

  it('session history and the audit chain survive a restart', async () => {
    const sessionsBefore = (await call<SessionView[]>('GET', '/api/sessions')).json
    expect(sessionsBefore.length).toBeGreaterThan(0)
    await api.close()
    await a.stop()
    await startA()
    const sessionsAfter = (await call<SessionView[]>('GET', '/api/sessions')).json
    expect(sessionsAfter.map((s) => s.sessionId).sort()).toEqual(
      sessionsBefore.map((s) => s.sessionId).sort()
    )
    expect(sessionsAfter.every((s) => s.done)).toBe(true)
    const ops = (await call<OperationView[]>('GET', '/api/audit/operations')).json
    expect(ops.filter((o) => o.op === 'node-stop')).toHaveLength(1)
    expect(ops.filter((o) => o.op === 'node-start')).toHaveLength(2)
    expect((await call<AuditVerifyResult>('GET', '/api/audit/verify')).json.ok).toBe(true)
  })
})
