/**
 * The browser console's bridge (renderer/src/lib/web-bridge.ts) and the Electron invoke guard
 * (main/electron/ipc-guard.ts) against the real console service and the real HTTP API on 127.0.0.1.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDispatcher } from '../../main/api/dispatch.ts'
import { startApiServer, type ApiServer } from '../../main/api/http-server.ts'
import { BAD_REQUEST, createInvokeHandler, FORBIDDEN_SENDER } from '../../main/electron/ipc-guard.ts'
import { createConsoleService, type ConsoleService } from '../../main/service/index.ts'
import type { ConsoleEvent } from '../../preload/contract.ts'
import { createWebBridge, type StreamStatus } from '../../renderer/src/lib/web-bridge.ts'

const SECRET = 'bridge-test-secret-0123456789'

let dir: string
let merchant: ConsoleService
let other: ConsoleService
let server: ApiServer

async function startService(name: string): Promise<ConsoleService> {
  const service = await createConsoleService({
    dataDir: join(dir, name),
    mdns: false,
    listen: ['/ip4/127.0.0.1/tcp/0']
  })
  await service.start()
  return service
}

/** Polls `check` until it is true (no deadline: the test timeout is the deadline). */
function until(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const poll = (): void => {
      if (check()) resolve()
      else setTimeout(poll, 10)
    }
    poll()
  })
}

function waitStatus(statuses: StreamStatus[], wanted: StreamStatus, from = 0): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (statuses.slice(from).includes(wanted)) resolve()
      else setTimeout(check, 10)
    }
    check()
  })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taleus-bridge-'))
  merchant = await startService('merchant')
  other = await startService('other')
  server = await startApiServer({ api: merchant, secret: SECRET })
})

afterAll(async () => {
  await server?.close()
  await merchant?.stop()
  await other?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('web bridge over the real HTTP API', () => {
  it('creates, lists and re-derives a token link', async () => {
    const api = createWebBridge({ secret: SECRET, baseUrl: server.url })
    const created = await api.createToken({
      role: 'stock',
      label: 'Counter',
      uses: 'unlimited',
      identityRequirements: ['email']
    })
    expect(created.link.startsWith('taleus:bootstrap?')).toBe(true)
    expect((await api.listTokens()).map((t) => t.tokenId)).toContain(created.tokenId)
    expect(await api.getTokenLink({ tokenId: created.tokenId })).toEqual({
      tokenId: created.tokenId,
      link: created.link
    })
  })

  it('rejects with an ApiCallError carrying the code', async () => {
    const api = createWebBridge({ secret: SECRET, baseUrl: server.url })
    await expect(api.revokeToken({ tokenId: 'no-such-token' })).rejects.toMatchObject({
      name: 'ApiCallError',
      code: 'not-found'
    })
    await expect(api.createToken({ role: 'nope' as 'stock' })).rejects.toMatchObject({
      name: 'ApiCallError',
      code: 'bad-input'
    })
    await expect(api.getSessionEvents({ sessionId: '' })).rejects.toMatchObject({ code: 'bad-input' })
    const wrong = createWebBridge({ secret: 'wrong', baseUrl: server.url })
    await expect(wrong.listTokens()).rejects.toMatchObject({ name: 'ApiCallError', code: 'unauthorized' })
  })

  it('sends GET inputs as a query string the server reads back typed', async () => {
    const api = createWebBridge({ secret: SECRET, baseUrl: server.url })
    await expect(api.listAudit({ limit: 5, before: Date.now() })).resolves.toBeInstanceOf(Array)
  })

  it('reports an unauthorized event stream', async () => {
    const statuses: StreamStatus[] = []
    const api = createWebBridge({
      secret: 'wrong',
      baseUrl: server.url,
      backoffMs: 20,
      onStatus: (s) => statuses.push(s)
    })
    const stop = api.subscribe(() => {})
    await waitStatus(statuses, 'unauthorized')
    stop()
    expect(statuses).not.toContain('open')
  })

  it('streams events, and dials another node end to end', async () => {
    const statuses: StreamStatus[] = []
    const api = createWebBridge({ secret: SECRET, baseUrl: server.url, onStatus: (s) => statuses.push(s) })
    const received: ConsoleEvent[] = []
    const stop = api.subscribe((batch) => received.push(...batch))
    const invite = await other.createToken({ role: 'foil', label: 'Other', identityRequirements: ['name'] })
    // Nothing may happen on the node before the stream is open, or its event would be missed.
    await waitStatus(statuses, 'open')
    const token = await api.createToken({ role: 'stock', label: 'Evented' })
    await until(() => received.some((e) => e.kind === 'token' && e.token.tokenId === token.tokenId))
    const { sessionId } = await api.dial({ link: invite.link, identity: { name: 'Merchant' } })
    const outcome = await api.waitDial({ sessionId })
    expect(outcome).toMatchObject({ sessionId, ok: true, role: 'foil', remotePeerId: other.peerId })
    await until(() => received.some((e) => e.kind === 'dial-result' && e.outcome.sessionId === sessionId))
    expect(received.find((e) => e.kind === 'dial-result')).toMatchObject({ outcome: { sessionId, ok: true } })
    const states = received.flatMap((e) =>
      e.kind === 'session' && e.session.sessionId === sessionId ? [e.event.state] : []
    )
    expect(states[0]).toBe('D_SEND_CONTACT')
    expect(states.at(-1)).toBe('D_DONE')
    const events = await api.getSessionEvents({ sessionId })
    expect(events.at(-1)?.state).toBe('D_DONE')
    stop()
  })

  it('reconnects after the server goes away and comes back on the same port', async () => {
    const port = Number(new URL(server.url).port)
    const statuses: StreamStatus[] = []
    const api = createWebBridge({
      secret: SECRET,
      baseUrl: server.url,
      backoffMs: 20,
      maxBackoffMs: 100,
      onStatus: (s) => statuses.push(s)
    })
    const received: ConsoleEvent[] = []
    const stop = api.subscribe((batch) => received.push(...batch))
    await waitStatus(statuses, 'open')
    await server.close()
    await waitStatus(statuses, 'reconnecting')
    const mark = statuses.length
    server = await startApiServer({ api: merchant, secret: SECRET, port })
    await waitStatus(statuses, 'open', mark)
    const created = await api.createToken({ role: 'stock', label: 'After reconnect' })
    await until(() => received.some((e) => e.kind === 'token' && e.token.tokenId === created.tokenId))
    stop()
  })
})

describe('Electron invoke guard with the real dispatcher', () => {
  const rendererUrl = 'file:///app/out/renderer/index.html'
  const ours = { contentsId: 7, frameUrl: `${rendererUrl}#x`, isMainFrame: true }

  it('serves our main frame', async () => {
    const handle = createInvokeHandler(createDispatcher(merchant), { contentsId: 7, rendererUrl })
    const reply = await handle(ours, 'listTokens', undefined)
    expect(reply.ok).toBe(true)
    const failed = await handle(ours, 'revokeToken', { tokenId: 'no-such-token' })
    expect(failed).toEqual({ ok: false, error: { code: 'not-found', message: expect.any(String) } })
  })

  it('refuses other windows, sub-frames and foreign pages', async () => {
    const handle = createInvokeHandler(createDispatcher(merchant), { contentsId: 7, rendererUrl })
    for (const sender of [
      { ...ours, contentsId: 8 },
      { ...ours, isMainFrame: false },
      { ...ours, frameUrl: 'https://evil.example/' },
      { ...ours, frameUrl: 'file:///tmp/other.html' },
      { ...ours, frameUrl: undefined }
    ]) {
      expect(await handle(sender, 'listTokens', undefined)).toMatchObject({
        ok: false,
        error: { code: FORBIDDEN_SENDER }
      })
    }
  })

  it('refuses malformed names and inputs before the dispatcher', async () => {
    const handle = createInvokeHandler(createDispatcher(merchant), { contentsId: 7, rendererUrl })
    for (const [name, input] of [
      ['__proto__', undefined],
      ['toString', undefined],
      [42, undefined],
      ['listTokens', []],
      ['createToken', 'stock'],
      ['createToken', new Date()]
    ] as const) {
      expect(await handle(ours, name, input)).toMatchObject({ ok: false, error: { code: BAD_REQUEST } })
    }
    expect(await handle(ours, 'createToken', { role: 'stock', extra: 1 })).toMatchObject({
      ok: false,
      error: { code: 'bad-input' }
    })
  })
})
