/**
 * Two real console services (libp2p on 127.0.0.1, stores in temp folders): a token made on A, dialled
 * from B, ends as the same tally on both sides; the live table, events, failures and restart.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createConsoleService, type ConsoleService } from '../../main/service/index.ts'
import { parseLink } from '../../main/bootstrap/index.ts'
import type { ConsoleEvent } from '../../preload/contract.ts'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']

describe('console service', () => {
  let dirA: string
  let dirB: string
  let a: ConsoleService
  let b: ConsoleService
  const eventsA: ConsoleEvent[] = []
  const eventsB: ConsoleEvent[] = []
  const tokens: string[] = []

  beforeAll(async () => {
    dirA = await mkdtemp(join(tmpdir(), 'taleus-svc-a-'))
    dirB = await mkdtemp(join(tmpdir(), 'taleus-svc-b-'))
    a = await createConsoleService({ dataDir: dirA, listen: LISTEN, mdns: false })
    b = await createConsoleService({ dataDir: dirB, listen: LISTEN, mdns: false })
    await Promise.all([a.start(), b.start()])
    a.subscribe((batch) => eventsA.push(...batch))
    b.subscribe((batch) => eventsB.push(...batch))
  })

  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()])
    await rm(dirA, { recursive: true, force: true })
    await rm(dirB, { recursive: true, force: true })
  })

  it('reports its node', async () => {
    const info = await a.getNodeInfo()
    expect(info.peerId).toBe(a.peerId)
    expect(info.multiaddrs.length).toBeGreaterThan(0)
    for (const addr of info.multiaddrs) expect(addr.endsWith(`/p2p/${a.peerId}`)).toBe(true)
    expect(info.dataDir).toBe(dirA)
    expect(info.mdns).toBe(false)
    expect(info.activeListeners).toBe(0)
  })

  it('creates a token whose link points at this node and can be re-derived', async () => {
    const created = await a.createToken({ role: 'stock', uses: 'unlimited', label: 'Counter 1' })
    tokens.push(parseLink(created.link).token)
    const link = parseLink(created.link)
    expect(link.role).toBe('stock')
    expect(link.responderPeerAddrs).toEqual(a.multiaddrs())
    expect(created.label).toBe('Counter 1')
    expect(await a.getTokenLink({ tokenId: created.tokenId })).toEqual({
      tokenId: created.tokenId,
      link: created.link
    })
    expect((await a.listTokens()).map((t) => t.tokenId)).toContain(created.tokenId)
    await expect(a.getTokenLink({ tokenId: 'tk_nope' })).rejects.toMatchObject({
      name: 'ApiError',
      code: 'not-found'
    })
  })

  it('bootstraps from a second service: both sides see the same tally', async () => {
    const created = await a.createToken({
      role: 'stock',
      uses: 1,
      label: 'Till',
      identityRequirements: ['email']
    })
    tokens.push(parseLink(created.link).token)
    const { sessionId } = await b.dial({ link: created.link, identity: { email: 'bo@example.com' } })
    const outcome = await b.waitDial({ sessionId })
    if (!outcome.ok) throw new Error(`dial failed: ${outcome.reason}`)
    expect(outcome).toMatchObject({ sessionId, ok: true, role: 'stock', remotePeerId: a.peerId })

    await vi.waitFor(async () => {
      const tallyA = (await a.listTallies()).find((t) => t.tallyId === outcome.tallyId)
      expect(tallyA).toMatchObject({
        status: 'confirmed',
        direction: 'inbound',
        counterpartyPeerId: b.peerId,
        tokenLabel: 'Till'
      })
    })
    const tallyB = (await b.listTallies()).find((t) => t.tallyId === outcome.tallyId)
    expect(tallyB).toMatchObject({ direction: 'outbound', counterpartyPeerId: a.peerId })

    // Live table on both sides, with the token label on A's row.
    await vi.waitFor(async () => {
      const rowA = (await a.listSessions()).find((s) => s.tallyId === outcome.tallyId)
      expect(rowA).toMatchObject({
        direction: 'inbound',
        state: 'L_DONE',
        done: true,
        tokenLabel: 'Till',
        peerId: b.peerId
      })
    })
    const rowB = (await b.listSessions()).find((s) => s.sessionId === sessionId)
    expect(rowB).toMatchObject({ direction: 'outbound', state: 'D_DONE', done: true })

    // Events reached subscribers: the dial result on B, the session and the tally on A.
    await vi.waitFor(() => {
      expect(
        eventsB.some((e) => e.kind === 'dial-result' && e.outcome.sessionId === sessionId && e.outcome.ok)
      ).toBe(true)
      expect(eventsA.some((e) => e.kind === 'tally' && e.tally.tallyId === outcome.tallyId)).toBe(true)
      expect(
        eventsA.some(
          (e) => e.kind === 'session' && e.session.tallyId === outcome.tallyId && e.session.state === 'L_DONE'
        )
      ).toBe(true)
    })

    // The timeline of B's session, oldest first, from D_SEND_CONTACT to D_DONE.
    const timeline = await b.getSessionEvents({ sessionId })
    expect(timeline[0]?.state).toBe('D_SEND_CONTACT')
    expect(timeline.at(-1)?.state).toBe('D_DONE')

    // The single use is gone.
    expect((await a.listTokens()).find((t) => t.tokenId === created.tokenId)).toMatchObject({
      used: 1,
      status: 'used-up'
    })
    const info = await a.getNodeInfo()
    expect(info.activeListeners).toBe(0)
    // The customer's node is listed as a peer seen by connection.
    expect((await a.listPeers()).find((p) => p.peerId === b.peerId)).toMatchObject({ source: 'connection' })
    expect(eventsA.some((e) => e.kind === 'peer' && e.peer.peerId === b.peerId)).toBe(true)
  })

  it('reports a revoked token as a failed dial with its reason and words', async () => {
    const created = await a.createToken({ role: 'foil' })
    tokens.push(parseLink(created.link).token)
    await a.revokeToken({ tokenId: created.tokenId })
    const { sessionId } = await b.dial({ link: created.link })
    const outcome = await b.waitDial({ sessionId })
    expect(outcome).toEqual({
      sessionId,
      ok: false,
      reason: 'token-revoked',
      message: 'this token was revoked'
    })
    await vi.waitFor(() => {
      expect(
        eventsB.some((e) => e.kind === 'dial-result' && e.outcome.sessionId === sessionId && !e.outcome.ok)
      ).toBe(true)
    })
  })

  it('refuses a bad link at once and an unknown dial', async () => {
    await expect(b.dial({ link: 'https://example.com' })).rejects.toMatchObject({
      name: 'ApiError',
      code: 'invalid-link',
      status: 400
    })
    await expect(b.waitDial({ sessionId: 'nope' })).rejects.toMatchObject({
      name: 'ApiError',
      code: 'not-found'
    })
  })

  it('never puts a token into an event', async () => {
    await vi.waitFor(() => expect(eventsA.length).toBeGreaterThan(0))
    const text = JSON.stringify([
      eventsA,
      eventsB,
      await a.listSessions(),
      await a.listAudit({}),
      await b.listAudit({})
    ])
    expect(tokens.length).toBeGreaterThan(2)
    for (const token of tokens) expect(text).not.toContain(token)
  })

  it('refuses a second service on the same folder, cleanly', async () => {
    const twin = await createConsoleService({ dataDir: dirA, listen: LISTEN, mdns: false })
    await expect(twin.start()).rejects.toMatchObject({ name: 'StoreLockedError' })
    await twin.stop()
    // stop() while a failing start() runs ends too.
    const twin2 = await createConsoleService({ dataDir: dirA, listen: LISTEN, mdns: false })
    const started = twin2.start()
    const stopped = twin2.stop()
    await expect(started).rejects.toMatchObject({ name: 'StoreLockedError' })
    await stopped
    await expect(twin.listTokens()).rejects.toMatchObject({ name: 'ApiError', code: 'not-running' })
    // The first one is unharmed.
    expect((await a.getNodeInfo()).peerId).toBe(a.peerId)
  })

  it('stops idempotently, refuses commands afterwards, and keeps its data across a restart', async () => {
    const tokenIds = (await a.listTokens()).map((t) => t.tokenId)
    const tallyIds = (await a.listTallies()).map((t) => t.tallyId)
    await a.stop()
    await a.stop()
    await expect(a.listTokens()).rejects.toMatchObject({ name: 'ApiError', code: 'not-running' })
    const again = await createConsoleService({ dataDir: dirA, listen: LISTEN, mdns: false })
    try {
      await again.start()
      expect(again.peerId).toBe(a.peerId)
      expect((await again.listTokens()).map((t) => t.tokenId)).toEqual(tokenIds)
      expect((await again.listTallies()).map((t) => t.tallyId).sort()).toEqual([...tallyIds].sort())
    } finally {
      await again.stop()
    }
  })
})
