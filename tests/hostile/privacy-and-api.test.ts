/**
 * Cadre privacy on every rejection path (bytes captured on the dialer side with a raw client), and the
 * local API's refusals: no bearer secret → 401, a foreign Origin → 403, a non-loopback address → no
 * connection at all. The rejection paths run on lowdb and on PostgreSQL (where the rows of every table but
 * the cadre's secrets are searched for tokens and grants too).
 */
import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import type { Libp2p } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionManager } from '../../main/bootstrap/index.ts'
import { createSecret } from '../../main/api/auth.ts'
import { startApiServer } from '../../main/api/http-server.ts'
import type { ApiServer } from '../../main/api/http-server.ts'
import { createConsoleService } from '../../main/service/index.ts'
import type { ConsoleService } from '../../main/service/index.ts'
import { MemoryHooks } from '../integration/protocol-helpers.ts'
import {
  SecretWatch,
  containsText,
  dialerNodes,
  frame,
  hostileStores,
  rawSend,
  removeDir,
  startStoreListener,
  tempDir
} from './helpers.ts'
import type { RawOutcome, StoreListener } from './helpers.ts'

describe.each(hostileStores())(
  'cadre privacy on $name: A sends nothing of its own in any rejection',
  (kind) => {
    let A: StoreListener
    let busyA: StoreListener
    let raw: Libp2p
    let clock = Date.now()
    const watch = new SecretWatch()
    const seen: Record<string, number> = {}

    beforeAll(async () => {
      A = await startStoreListener({ kind, stepTimeoutMs: 1000, storeInit: { now: () => clock } })
      // refused by the manager before any hook: its store is not what is tested
      busyA = await startStoreListener({ maxConcurrentSessions: 0 })
      raw = (await dialerNodes(1))[0]!
    })
    afterAll(async () => {
      await raw?.stop()
      await busyA?.close()
      await A?.close()
    })

    const contact = (token: string, extra: Record<string, unknown> = {}): Uint8Array =>
      frame({
        type: 'InboundContact',
        token,
        partyId: raw.peerId.toString(),
        identityBundle: {},
        cadrePeerAddrs: ['/dns4/cadre-b.example/tcp/1'],
        ...extra
      })

    function expectPrivate(out: RawOutcome, listener: StoreListener, expected: string | 'reset'): void {
      if (expected === 'reset') {
        expect(out.frames).toEqual([])
        expect(out.end).toBe('reset')
      } else {
        expect(out.frames).toHaveLength(1)
        expect(out.frames[0]).toMatchObject({ type: 'ProvisioningResult', approved: false, reason: expected })
      }
      expect(out.received.length > 0 || expected === 'reset').toBe(true)
      expect(containsText(out.received, listener.peerId)).toBe(false)
      for (const addr of listener.cadre) expect(containsText(out.received, addr)).toBe(false)
      for (const addr of listener.node.getMultiaddrs())
        expect(containsText(out.received, addr.toString())).toBe(false)
      watch.text(`A's bytes (${expected})`, Buffer.from(out.received).toString('latin1'))
      seen[expected] = (seen[expected] ?? 0) + 1
    }

    it('every reason A can refuse with before approval, and a reset, carry no cadre and no partyId', async () => {
      const store = A.store
      const mk = async (input: Parameters<typeof store.createToken>[0]): Promise<string> =>
        watch.secret((await store.createToken(input)).token)

      expectPrivate(await rawSend(raw, A.addr(), [contact('no-such-token-anywhere')]), A, 'invalid-token')
      expectPrivate(await rawSend(raw, A.addr(), [frame('{"type":"InboundContact"}')]), A, 'bad-message')

      const expiring = await mk({ role: 'stock', expiresInMs: 60_000 })
      clock += 120_000
      expectPrivate(await rawSend(raw, A.addr(), [contact(expiring)]), A, 'token-expired')

      const revoked = await mk({ role: 'stock' })
      await store.revokeToken(store.listTokens().find((t) => t.status === 'active')!.tokenId)
      expectPrivate(await rawSend(raw, A.addr(), [contact(revoked)]), A, 'token-revoked')

      const single = await mk({ role: 'stock', uses: 1 })
      await new SessionManager(new MemoryHooks('B'), {}).initiateBootstrap(
        { token: single, role: 'stock', responderPeerAddrs: [A.addr()] },
        raw
      )
      expectPrivate(await rawSend(raw, A.addr(), [contact(single)]), A, 'token-used')

      const needsEmail = await mk({ role: 'stock', uses: 'unlimited', identityRequirements: ['email'] })
      expectPrivate(await rawSend(raw, A.addr(), [contact(needsEmail)]), A, 'identity-required')

      const operator = await mk({
        role: 'stock',
        uses: 'unlimited',
        approval: 'operator',
        approvalTimeoutMs: 60_000
      })
      const asked = new Promise<string>((res) =>
        store.addEventListener('approval', (e) => res(e.detail.sessionId), { once: true })
      )
      // B keeps its side open while the operator looks (a half-close there means B left: the session ends)
      const rejected = rawSend(raw, A.addr(), [contact(operator)], { halfClose: false })
      await store.decide(await asked, 'reject')
      expectPrivate(await rejected, A, 'identity-rejected')

      const slowOperator = await mk({
        role: 'foil',
        uses: 'unlimited',
        approval: 'operator',
        approvalTimeoutMs: 50
      })
      expectPrivate(await rawSend(raw, A.addr(), [contact(slowOperator)], { halfClose: false }), A, 'timeout')

      const good = await mk({ role: 'stock', uses: 'unlimited' })
      expectPrivate(await rawSend(raw, A.addr(), [contact(good, { partyId: A.peerId })]), A, 'party-mismatch')

      expectPrivate(await rawSend(raw, busyA.addr(), [contact(good)]), busyA, 'busy')
      // silence: A resets at its step timeout, having sent nothing at all
      expectPrivate(await rawSend(raw, A.addr(), [], { halfClose: false }), A, 'reset')

      await A.idle()
      for (const e of A.events) watch.text('event', JSON.stringify(e))
      await store.close()
      await watch.store(A)
      expect(watch.leaks()).toEqual([])
      console.info(`cadre privacy: rejection paths checked ${JSON.stringify(seen)}`)
    })
  }
)

describe('local API refusals', () => {
  let dir: string
  let service: ConsoleService
  let api: ApiServer
  const secret = createSecret()

  beforeAll(async () => {
    dir = await tempDir('api')
    service = await createConsoleService({ dataDir: dir, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
    await service.start()
    api = await startApiServer({ api: service, secret })
  })
  afterAll(async () => {
    await api?.close()
    await service?.stop()
    await removeDir(dir)
  })

  it('no or a wrong bearer secret → 401; a foreign Origin or Host → 403; the right secret → 200', async () => {
    const url = `${api.url}/api/tokens`
    const bodies: string[] = []
    const call = async (headers: Record<string, string>): Promise<number> => {
      const res = await fetch(url, { headers })
      bodies.push(await res.text())
      return res.status
    }
    expect(await call({})).toBe(401)
    expect(await call({ authorization: 'Bearer wrong-secret-value' })).toBe(401)
    expect(await call({ authorization: secret })).toBe(401)
    expect(await call({ authorization: `Bearer ${secret}`, origin: 'http://evil.example' })).toBe(403)
    expect(await call({ authorization: `Bearer ${secret}`, origin: 'null' })).toBe(403)
    expect(await call({ authorization: `Bearer ${secret}` })).toBe(200)
    // DNS rebinding: the right secret, but a foreign Host header
    const rebound = await new Promise<number>((res, rej) => {
      const port = Number(new URL(api.url).port)
      const sock = connect(port, '127.0.0.1', () => {
        sock.write(
          `GET /api/tokens HTTP/1.1\r\nHost: evil.example:${port}\r\nAuthorization: Bearer ${secret}\r\nConnection: close\r\n\r\n`
        )
      })
      let text = ''
      sock.on('data', (d) => (text += d.toString()))
      sock.on('end', () => res(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1])))
      sock.on('error', rej)
    })
    expect(rebound).toBe(403)
    for (const b of bodies) expect(b).not.toContain(secret)
  })

  it('a non-loopback address of this machine cannot even connect to the API port', async (ctx) => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i != null && !i.internal && i.family === 'IPv4')
    if (external == null) {
      console.info(
        'local API: skipped the non-loopback check — this machine has no non-loopback IPv4 address'
      )
      ctx.skip()
      return
    }
    const port = Number(new URL(api.url).port)
    const error = await new Promise<NodeJS.ErrnoException | undefined>((res) => {
      const sock = connect({ host: external.address, port, timeout: 5000 })
      sock.once('connect', () => {
        sock.destroy()
        res(undefined)
      })
      sock.once('timeout', () => {
        sock.destroy()
        res(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }))
      })
      sock.once('error', (err) => res(err))
    })
    expect(error?.code, `connecting to ${external.address}:${port}`).toMatch(
      /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH/
    )
  })
})
