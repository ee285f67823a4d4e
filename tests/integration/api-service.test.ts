/**
 * The HTTP API over a real console service: the CLI's and the browser console's path to the node.
 * Creates a token, re-derives its link, dials a second real node through HTTP and waits for the outcome.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSecret } from '../../main/api/auth.ts'
import { startApiServer, type ApiServer } from '../../main/api/http-server.ts'
import { createConsoleService, type ConsoleService } from '../../main/service/index.ts'
import type { CreatedToken, DialOutcome, NodeInfo, TokenView } from '../../preload/contract.ts'
import { apiCall, type ApiReply } from '../helpers/api-call.ts'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']

describe('HTTP API over the console service', () => {
  let dirA: string
  let dirB: string
  let a: ConsoleService
  let b: ConsoleService
  let apiA: ApiServer
  let apiB: ApiServer
  const secretA = createSecret()
  const secretB = createSecret()

  const call = <T>(
    server: ApiServer,
    secret: string,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown
  ): Promise<ApiReply<T>> => apiCall<T>(server.url, secret, method, path, body)

  beforeAll(async () => {
    dirA = await mkdtemp(join(tmpdir(), 'taleus-api-a-'))
    dirB = await mkdtemp(join(tmpdir(), 'taleus-api-b-'))
    a = await createConsoleService({ dataDir: dirA, listen: LISTEN, mdns: false })
    b = await createConsoleService({ dataDir: dirB, listen: LISTEN, mdns: false })
    await Promise.all([a.start(), b.start()])
    apiA = await startApiServer({ api: a, secret: secretA })
    apiB = await startApiServer({ api: b, secret: secretB })
  })

  afterAll(async () => {
    await Promise.allSettled([apiA?.close(), apiB?.close()])
    await Promise.allSettled([a?.stop(), b?.stop()])
    await rm(dirA, { recursive: true, force: true })
    await rm(dirB, { recursive: true, force: true })
  })

  it('serves node info, and refuses the other node secret', async () => {
    const info = await call<NodeInfo>(apiA, secretA, 'GET', '/api/node')
    expect(info.status).toBe(200)
    expect(info.json.peerId).toBe(a.peerId)
    expect((await call(apiA, secretB, 'GET', '/api/node')).status).toBe(401)
  })

  it('creates, lists, links and revokes tokens; unknown ids are 404', async () => {
    const created = await call<CreatedToken>(apiA, secretA, 'POST', '/api/tokens', {
      role: 'stock',
      uses: 3,
      label: 'Web'
    })
    expect(created.status).toBe(200)
    expect(created.json).toMatchObject({ role: 'stock', uses: 3, label: 'Web', used: 0 })
    const link = await call<{ link: string }>(
      apiA,
      secretA,
      'GET',
      `/api/tokens/link?tokenId=${encodeURIComponent(created.json.tokenId)}`
    )
    expect(link.json.link).toBe(created.json.link)
    const list = await call<TokenView[]>(apiA, secretA, 'GET', '/api/tokens')
    expect(list.json.map((t) => t.tokenId)).toContain(created.json.tokenId)
    const revoked = await call<TokenView>(apiA, secretA, 'POST', '/api/tokens/revoke', {
      tokenId: created.json.tokenId
    })
    expect(revoked.json).toMatchObject({ revoked: true, status: 'revoked' })
    const unknown = await call<{ error: { code: string } }>(apiA, secretA, 'POST', '/api/tokens/revoke', {
      tokenId: 'tk_unknown'
    })
    expect(unknown.status).toBe(404)
    expect(unknown.json.error.code).toBe('not-found')
  })

  it('dials through HTTP and waits for the outcome', async () => {
    const created = await call<CreatedToken>(apiA, secretA, 'POST', '/api/tokens', { role: 'foil' })
    const started = await call<{ sessionId: string }>(apiB, secretB, 'POST', '/api/dial', {
      link: created.json.link
    })
    expect(started.status).toBe(200)
    const outcome = await call<DialOutcome>(apiB, secretB, 'POST', '/api/dial/wait', {
      sessionId: started.json.sessionId
    })
    expect(outcome.json).toMatchObject({
      sessionId: started.json.sessionId,
      ok: true,
      role: 'foil',
      remotePeerId: a.peerId
    })
    const badLink = await call<{ error: { code: string } }>(apiB, secretB, 'POST', '/api/dial', {
      link: 'taleus:bootstrap?v=9'
    })
    expect(badLink.status).toBe(400)
    expect(badLink.json.error.code).toBe('invalid-link')
    // A's own code, dialled by A: said so, not "could not reach the other node"
    const own = await call<{ error: { code: string } }>(apiA, secretA, 'POST', '/api/dial', {
      link: created.json.link
    })
    expect(own.status).toBe(400)
    expect(own.json.error.code).toBe('own-link')
  })

  it('answers the audit query with numbers parsed from the query string', async () => {
    const audit = await call<unknown[]>(apiA, secretA, 'GET', '/api/audit?limit=2')
    expect(audit.status).toBe(200)
    expect(audit.json).toHaveLength(2)
  })
})
