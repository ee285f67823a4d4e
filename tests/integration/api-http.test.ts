/**
 * The local HTTP API's guard rails (auth, origin, host, input validation, body limits), the event stream
 * and the static console. The API behind it here is a small recording implementation of TaleusApi: these
 * tests are about the HTTP layer; the real service is exercised by service-*.test.ts and cli-*.test.ts.
 */
import { request, type ClientRequest } from 'node:http'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_EVENT_STREAMS, startApiServer, type ApiServer } from '../../main/api/http-server.ts'
import { isLoopback } from '../../main/api/auth.ts'
import type { ConsoleEvent, TaleusApi } from '../../preload/contract.ts'
import { EVENTS_PATH } from '../../preload/contract.ts'

const SECRET = 'test-secret-0123456789'

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

function call(
  base: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, base),
      { method: init.method ?? 'GET', headers: init.headers },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8')
          })
        )
      }
    )
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The server may answer 413 and close before the whole body went out.
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') reject(err)
      else reject(err)
    })
    if (init.body !== undefined) req.end(init.body)
    else req.end()
  })
}

const auth = { authorization: `Bearer ${SECRET}` }

function errorCode(reply: Reply): string {
  return (JSON.parse(reply.body) as { error: { code: string } }).error.code
}

/** Records each call's input; answers with fixed data. */
function recordingApi(): {
  api: TaleusApi
  calls: Array<{ name: string; input: unknown }>
  emit: (events: ConsoleEvent[]) => void
} {
  const calls: Array<{ name: string; input: unknown }> = []
  const subscribers = new Set<(events: ConsoleEvent[]) => void>()
  const record =
    (name: string, result: unknown) =>
    async (input?: unknown): Promise<never> => {
      calls.push({ name, input })
      return result as never
    }
  const api: TaleusApi = {
    getNodeInfo: record('getNodeInfo', { peerId: 'p' }),
    listTokens: record('listTokens', []),
    createToken: record('createToken', { tokenId: 't1', link: 'taleus:bootstrap?x' }),
    getTokenLink: record('getTokenLink', { tokenId: 't1', link: 'l' }),
    revokeToken: record('revokeToken', { tokenId: 't1' }),
    getTallyDocument: record('getTallyDocument', { tallyId: 't' }),
    proposeTerms: record('proposeTerms', { proposalId: 'p' }),
    acceptProposal: record('acceptProposal', { proposalId: 'p' }),
    closeProposal: record('closeProposal', { proposalId: 'p' }),
    listSessions: record('listSessions', []),
    getSessionEvents: record('getSessionEvents', []),
    listApprovals: record('listApprovals', []),
    decide: record('decide', { sessionId: 's', decision: 'approve', applied: true }),
    listTallies: record('listTallies', []),
    dial: record('dial', { sessionId: 's' }),
    waitDial: record('waitDial', { sessionId: 's', ok: false, reason: 'timeout', message: 'm' }),
    listAudit: record('listAudit', []),
    listPeers: record('listPeers', []),
    verifyAudit: record('verifyAudit', { ok: true, records: 0, files: 1, unchained: 0, anchored: true }),
    listOperations: record('listOperations', []),
    getTally: record('getTally', {}),
    archiveToken: record('archiveToken', { tokenId: 't1' }),
    exportRows: record('exportRows', { filename: 'f', mimeType: 'text/csv', content: '', rows: 0 }),
    getDisplay: record('getDisplay', {}),
    closeDisplay: record('closeDisplay', {}),
    getStoreSetting: record('getStoreSetting', {}),
    setStoreSetting: record('setStoreSetting', {}),
    subscribe(onBatch) {
      subscribers.add(onBatch)
      return () => subscribers.delete(onBatch)
    }
  }
  return { api, calls, emit: (events) => subscribers.forEach((s) => s(events)) }
}

describe('local HTTP API', () => {
  let server: ApiServer
  let staticDir: string
  const rec = recordingApi()

  beforeAll(async () => {
    staticDir = await mkdtemp(join(tmpdir(), 'taleus-api-static-'))
    await mkdir(join(staticDir, 'assets'))
    await writeFile(join(staticDir, 'index.html'), '<!doctype html><title>console</title>')
    await writeFile(join(staticDir, 'assets', 'app.js'), 'console.log(1)')
    server = await startApiServer({ api: rec.api, secret: SECRET, port: 0, staticDir })
  })

  afterAll(async () => {
    await server.close()
    await rm(staticDir, { recursive: true, force: true })
  })

  it('listens on 127.0.0.1 only', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  })

  it('answers 401 without the secret or with a wrong one', async () => {
    const none = await call(server.url, '/api/tokens')
    expect(none.status).toBe(401)
    expect(errorCode(none)).toBe('unauthorized')
    const wrong = await call(server.url, '/api/tokens', { headers: { authorization: 'Bearer nope' } })
    expect(wrong.status).toBe(401)
    const basic = await call(server.url, '/api/tokens', { headers: { authorization: `Basic ${SECRET}` } })
    expect(basic.status).toBe(401)
    const ok = await call(server.url, '/api/tokens', { headers: auth })
    expect(ok.status).toBe(200)
    expect(JSON.parse(ok.body)).toEqual([])
  })

  it('requires the secret on the event stream and on unknown /api/ paths', async () => {
    expect((await call(server.url, EVENTS_PATH)).status).toBe(401)
    expect((await call(server.url, '/api/nothing-here')).status).toBe(401)
  })

  it('answers 403 to another origin and serves its own', async () => {
    const evil = await call(server.url, '/api/tokens', {
      headers: { ...auth, origin: 'http://evil.example' }
    })
    expect(evil.status).toBe(403)
    expect(errorCode(evil)).toBe('forbidden')
    const lookalike = await call(server.url, '/api/tokens', {
      headers: { ...auth, origin: `${server.url}.evil.example` }
    })
    expect(lookalike.status).toBe(403)
    const own = await call(server.url, '/api/tokens', { headers: { ...auth, origin: server.url } })
    expect(own.status).toBe(200)
  })

  it('answers 403 to a foreign Host header (DNS rebinding)', async () => {
    const reply = await call(server.url, '/api/tokens', { headers: { ...auth, host: 'attacker.example' } })
    expect(reply.status).toBe(403)
  })

  it('accepts only loopback remote addresses', () => {
    expect(isLoopback('127.0.0.1')).toBe(true)
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true)
    expect(isLoopback('::1')).toBe(true)
    expect(isLoopback('192.168.1.20')).toBe(false)
    expect(isLoopback('::ffff:10.0.0.1')).toBe(false)
    expect(isLoopback('1270.0.0.1')).toBe(false)
    expect(isLoopback(undefined)).toBe(false)
  })

  it('validates input with a 400 and a code, before the command runs', async () => {
    const before = rec.calls.length
    const post = (body: string): Promise<Reply> =>
      call(server.url, '/api/tokens', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body
      })
    for (const body of [
      JSON.stringify({ role: 'bank' }),
      JSON.stringify({ role: 'stock', extra: 1 }),
      JSON.stringify({ role: 'stock', uses: 0 }),
      JSON.stringify({ role: 'stock', uses: 1.5 }),
      '{"role":"stock","__proto__":{"admin":true}}',
      JSON.stringify({ role: 'stock', identityRequirements: ['__proto__'] }),
      '[]'
    ]) {
      const reply = await post(body)
      expect(reply.status, body).toBe(400)
      expect(errorCode(reply), body).toBe('bad-input')
    }
    const badJson = await post('{"role":')
    expect(badJson.status).toBe(400)
    expect(errorCode(badJson)).toBe('bad-input')
    const dial = await call(server.url, '/api/dial', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ link: 'x', identity: { constructor: 'x' } })
    })
    expect(dial.status).toBe(400)
    expect(rec.calls.length).toBe(before)
  })

  it('passes valid input through to the command', async () => {
    const created = await call(server.url, '/api/tokens', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'foil', uses: 'unlimited', label: 'Counter 1' })
    })
    expect(created.status).toBe(200)
    expect(rec.calls.at(-1)).toEqual({
      name: 'createToken',
      input: { role: 'foil', uses: 'unlimited', label: 'Counter 1' }
    })
  })

  it('reads GET input from the query string: numbers for numeric keys, text otherwise', async () => {
    const audit = await call(server.url, '/api/audit?limit=5&before=1700000000000&sessionId=42', {
      headers: auth
    })
    expect(audit.status).toBe(200)
    expect(rec.calls.at(-1)).toEqual({
      name: 'listAudit',
      input: { limit: 5, before: 1700000000000, sessionId: '42' }
    })
    const link = await call(server.url, '/api/tokens/link?tokenId=123', { headers: auth })
    expect(link.status).toBe(200)
    expect(rec.calls.at(-1)).toEqual({ name: 'getTokenLink', input: { tokenId: '123' } })
    const bad = await call(server.url, '/api/audit?limit=many', { headers: auth })
    expect(bad.status).toBe(400)
    const extra = await call(server.url, '/api/tokens?x=1', { headers: auth })
    expect(extra.status).toBe(400)
  })

  it('refuses unknown paths (404), wrong methods (405), non-JSON (415) and bodies over 64 KiB (413)', async () => {
    const unknown = await call(server.url, '/api/nope', { headers: auth })
    expect(unknown.status).toBe(404)
    expect(errorCode(unknown)).toBe('unknown-command')
    const method = await call(server.url, '/api/tokens', { method: 'DELETE', headers: auth })
    expect(method.status).toBe(405)
    const form = await call(server.url, '/api/tokens', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'role=stock'
    })
    expect(form.status).toBe(415)
    const big = await call(server.url, '/api/dial', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ link: 'x'.repeat(70 * 1024) })
    })
    expect(big.status).toBe(413)
    expect(errorCode(big)).toBe('payload-too-large')
  })

  it('streams event batches as server-sent events', async () => {
    const events: ConsoleEvent[] = [
      { kind: 'dial-result', outcome: { sessionId: 's1', ok: false, reason: 'busy', message: 'm' } }
    ]
    const received = await new Promise<string>((resolve, reject) => {
      const req = request(new URL(EVENTS_PATH, server.url), { headers: auth }, (res) => {
        expect(res.statusCode).toBe(200)
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          text += chunk
          if (text.includes(': connected')) rec.emit(events)
          const data = /data: (.*)\n\n/.exec(text)
          if (data) {
            req.destroy()
            resolve(data[1] as string)
          }
        })
      })
      req.on('error', reject)
      req.end()
    })
    expect(JSON.parse(received)).toEqual(events)
  })

  it('holds at most MAX_EVENT_STREAMS event streams at once; the next is told why', async () => {
    const open = (): Promise<{ req: ClientRequest; status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const req = request(new URL(EVENTS_PATH, server.url), { headers: auth }, (res) => {
          if (res.statusCode === 200) {
            resolve({ req, status: 200, body: '' })
            return
          }
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => (body += chunk))
          res.on('end', () => resolve({ req, status: res.statusCode ?? 0, body }))
        })
        req.on('error', reject)
        req.end()
      })
    const held: ClientRequest[] = []
    try {
      for (let i = 0; i < MAX_EVENT_STREAMS; i++) {
        const s = await open()
        expect(s.status).toBe(200)
        held.push(s.req)
      }
      const refused = await open()
      expect(refused.status).toBe(503)
      expect((JSON.parse(refused.body) as { error: { code: string } }).error.code).toBe('too-many-streams')
      // one closed, a new one gets in
      held.shift()?.destroy()
      await new Promise((resolve) => setTimeout(resolve, 100))
      const again = await open()
      expect(again.status).toBe(200)
      held.push(again.req)
    } finally {
      for (const r of held) r.destroy()
    }
  })

  it('serves the console without auth, with CSP and nosniff, and nothing outside its folder', async () => {
    const index = await call(server.url, '/')
    expect(index.status).toBe(200)
    expect(index.body).toContain('<title>console</title>')
    expect(index.headers['content-security-policy']).toContain("default-src 'self'")
    expect(index.headers['content-security-policy']).toContain("frame-ancestors 'none'")
    expect(index.headers['x-content-type-options']).toBe('nosniff')
    const asset = await call(server.url, '/assets/app.js')
    expect(asset.status).toBe(200)
    expect(asset.headers['content-type']).toMatch(/^text\/javascript/)
    for (const path of [
      '/assets/..%2f..%2fpackage.json',
      '/..%2f..%2f..%2fetc%2fpasswd',
      '/%2e%2e%2f%2e%2e%2fpackage.json'
    ]) {
      const traversal = await call(server.url, path)
      expect(traversal.status, path).toBe(404)
    }
    const missing = await call(server.url, '/assets/missing.js')
    expect(missing.status).toBe(404)
    const route = await call(server.url, '/tokens')
    expect(route.status).toBe(200)
    expect(route.body).toContain('<title>console</title>')
  })
})
