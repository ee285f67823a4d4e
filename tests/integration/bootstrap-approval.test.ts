/**
 * Operator approval end to end: the dialer waits while A's operator decides through the store (or the
 * console service). The wait may outlast both stepTimeoutMs and sessionTimeoutMs: the token's approval
 * wait travels in the link (`w=`) and extends both sides' deadlines.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { formatLink, parseLink } from '../../main/bootstrap/index.ts'
import { SOCKET_IDLE_TIMEOUT_MS } from '../../main/node/index.ts'
import { MAX_APPROVAL_TIMEOUT_MS } from '../../main/views/console-queries.ts'
import { createConsoleService, type ConsoleService } from '../../main/service/index.ts'
import { World, eventually, expectIdle, finished, outcome, type Party } from '../helpers/bootstrap-world.ts'

/** Deliberately shorter than the operator's wait, so only the approval extension lets it succeed. */
const SHORT = { stepTimeoutMs: 500, sessionTimeoutMs: 1000 } as const
const APPROVAL_MS = 2000
/** Longer than both SHORT timeouts, well inside APPROVAL_MS. */
const DECIDE_AFTER_MS = 1200

const sleep = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('operator approval with the real store', () => {
  const world = new World()
  const services: ConsoleService[] = []
  afterEach(async () => {
    await Promise.allSettled(services.splice(0).map(async (s) => s.stop()))
    await world.close()
  })

  async function pair(): Promise<[Party, Party]> {
    const a = await world.listener({ config: SHORT })
    const [b] = (await world.dialers(1, { config: SHORT })) as [Party]
    return [a, b]
  }

  it('the link carries the approval wait in whole seconds, rounded up', () => {
    const base = {
      token: 'tok',
      role: 'stock' as const,
      responderPeerAddrs: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN']
    }
    const text = formatLink({ ...base, approvalTimeoutMs: 1500 })
    expect(text).toContain('&w=2')
    expect(parseLink(text).approvalTimeoutMs).toBe(2000)
    expect(parseLink(formatLink(base)).approvalTimeoutMs).toBeUndefined()
    for (const bad of ['0', '-1', '1.5', 'x', '86401'])
      expect(() => parseLink(`${formatLink(base)}&w=${bad}`)).toThrow(
        expect.objectContaining({ name: 'InvalidLinkError' })
      )
  })

  it('nothing crosses the connection while the operator decides: the sockets must not give up first', async () => {
    // libp2p's default idle timeout (2 min) cut every default operator wait (2 min) short, as
    // `internal-error`; the node's own outlasts the longest wait a token may ask for
    expect(SOCKET_IDLE_TIMEOUT_MS).toBeGreaterThan(MAX_APPROVAL_TIMEOUT_MS)
    const attempt = async (socketIdleTimeoutMs: number): Promise<Error | undefined> => {
      const a = await world.listener({ config: SHORT, node: { socketIdleTimeoutMs } })
      const [b] = (await world.dialers(1, { config: SHORT, node: { socketIdleTimeoutMs } })) as [Party]
      const { link } = await a.createToken({
        role: 'stock',
        uses: 1,
        approval: 'operator',
        approvalTimeoutMs: 5000,
        identityRequirements: ['email']
      })
      let ended = false
      const dial = outcome(
        b.manager.initiateBootstrap(link, b.node, { identityBundle: { email: 'bo@example.org' } })
      ).finally(() => (ended = true))
      // on a busy machine a short idle timeout may cut the connection before the operator is even asked
      const waiting = await eventually(() => a.store.listApprovals()[0] ?? (ended ? null : undefined))
      if (waiting === null) return (await dial).error
      await sleep(DECIDE_AFTER_MS)
      await a.store.decide(waiting.sessionId, 'approve')
      return (await dial).error
    }
    // an idle timeout shorter than the wait ends the session on both sides
    expect(await attempt(400)).toBeDefined()
    expect(await attempt(4000)).toBeUndefined()
  })

  it('approve after longer than the step and session timeouts: both sides DONE, tally confirmed', async () => {
    const [a, b] = await pair()
    const { view, link } = await a.createToken({
      role: 'stock',
      uses: 1,
      approval: 'operator',
      approvalTimeoutMs: APPROVAL_MS,
      identityRequirements: ['email']
    })
    expect(link.approvalTimeoutMs).toBe(APPROVAL_MS)
    const dial = outcome(
      b.manager.initiateBootstrap(link, b.node, { identityBundle: { email: 'bo@example.org' } })
    )
    const waiting = await eventually(() => a.store.listApprovals()[0])
    expect(waiting).toMatchObject({
      tokenId: view.tokenId,
      peerId: b.peerId,
      bundle: { email: 'bo@example.org' }
    })
    await sleep(DECIDE_AFTER_MS)
    expect((await a.store.decide(waiting.sessionId, 'approve')).applied).toBe(true)
    const { value, error } = await dial
    expect(error).toBeUndefined()
    expect(value?.role).toBe('stock')
    const [endA] = await finished(a, 1)
    expect(endA).toMatchObject({
      state: 'L_DONE',
      sessionId: waiting.sessionId,
      tallyId: value!.tally.tallyId
    })
    expect(a.store.getTally(value!.tally.tallyId)?.status).toBe('confirmed')
    expect(b.store.getTally(value!.tally.tallyId)?.status).toBe('confirmed')
    expect(a.store.getToken(view.tokenId)?.used).toBe(1)
    await expectIdle([a.manager, b.manager])
  })

  it('reject: B gets identity-rejected, A fails with it, the use is not taken', async () => {
    const [a, b] = await pair()
    const { view, link } = await a.createToken({
      role: 'foil',
      uses: 1,
      approval: 'operator',
      approvalTimeoutMs: APPROVAL_MS
    })
    const dial = outcome(b.manager.initiateBootstrap(link, b.node))
    const waiting = await eventually(() => a.store.listApprovals()[0])
    await sleep(DECIDE_AFTER_MS)
    expect((await a.store.decide(waiting.sessionId, 'reject')).applied).toBe(true)
    expect((await dial).error).toMatchObject({ name: 'RejectedError', reason: 'identity-rejected' })
    expect((await finished(a, 1))[0]).toMatchObject({ state: 'L_FAILED', reason: 'identity-rejected' })
    // too late: the decision is not applied twice
    expect((await a.store.decide(waiting.sessionId, 'approve')).applied).toBe(false)
    expect(a.store.getToken(view.tokenId)?.used).toBe(0)
    expect([...a.store.listTallies(), ...b.store.listTallies()]).toEqual([])
    await expectIdle([a.manager, b.manager])
  })

  it('approval timeout: nobody decides, both sides end with reason timeout (told to B, not a reset)', async () => {
    const [a, b] = await pair()
    const resolved: string[] = []
    a.store.addEventListener('approval-resolved', (evt) => resolved.push(evt.detail.decision))
    const { view, link } = await a.createToken({
      role: 'stock',
      uses: 1,
      approval: 'operator',
      approvalTimeoutMs: APPROVAL_MS
    })
    const { error } = await outcome(b.manager.initiateBootstrap(link, b.node))
    expect(error).toMatchObject({ name: 'RejectedError', reason: 'timeout' })
    expect(b.events.at(-1)).toMatchObject({ state: 'D_FAILED', reason: 'timeout' })
    expect((await finished(a, 1))[0]).toMatchObject({ state: 'L_FAILED', reason: 'timeout' })
    expect(resolved).toEqual(['timeout'])
    expect(a.store.listApprovals()).toEqual([])
    expect(a.store.getToken(view.tokenId)?.used).toBe(0)
    expect(a.store.listTallies()).toEqual([])
    await expectIdle([a.manager, b.manager])
  })

  it('the customer leaves while the operator looks: the card goes as "left" (not timeout), A ends with peerLeft', async () => {
    const [a, b] = await pair()
    const resolved: string[] = []
    a.store.addEventListener('approval-resolved', (evt) => resolved.push(evt.detail.decision))
    const { link } = await a.createToken({
      role: 'stock',
      uses: 1,
      approval: 'operator',
      approvalTimeoutMs: 60_000
    })
    const cancel = new AbortController()
    const dialing = outcome(b.manager.initiateBootstrap(link, b.node, { signal: cancel.signal }))
    await eventually(() => (a.store.listApprovals().length === 1 ? true : undefined))
    // the customer closes the app: its node goes, and with it the stream
    await b.node.stop()
    cancel.abort()
    const [end] = await finished(a, 1)
    expect(end).toMatchObject({ state: 'L_FAILED', peerLeft: true })
    await eventually(() => (resolved.length === 1 ? true : undefined))
    expect(resolved).toEqual(['left'])
    expect(a.store.listApprovals()).toEqual([])
    await dialing
  })

  it('through two console services: the link text carries w=, the operator approves via the service', async () => {
    const started = async (): Promise<ConsoleService> => {
      const service = await createConsoleService({
        dataDir: await world.tempDir(),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        mdns: false,
        // still shorter than the operator's wait (DECIDE_AFTER_MS), but a step a loaded machine can
        // finish: after the approval, the foil dialer makes the tally's document (its first, cold)
        stepTimeoutMs: 1000,
        sessionTimeoutMs: 1100
      })
      services.push(service)
      await service.start()
      return service
    }
    const [a, b] = await Promise.all([started(), started()])
    const created = await a.createToken({
      role: 'foil',
      approval: 'operator',
      approvalTimeoutMs: APPROVAL_MS
    })
    expect(created.link).toMatch(/&w=2(&|$)/)
    const { sessionId } = await b.dial({ link: created.link })
    const waiting = await eventually(async () => (await a.listApprovals())[0])
    await sleep(DECIDE_AFTER_MS)
    expect(await a.decide({ sessionId: waiting.sessionId, decision: 'approve' })).toMatchObject({
      applied: true
    })
    const result = await b.waitDial({ sessionId })
    expect(result, JSON.stringify(result)).toMatchObject({ ok: true, role: 'foil', remotePeerId: a.peerId })
    const tallyId = result.ok ? result.tallyId : ''
    // A confirms before its Ack, so B's success means A's tally is already confirmed
    expect((await a.listTallies()).find((t) => t.tallyId === tallyId)?.status).toBe('confirmed')
    expect((await b.listTallies()).find((t) => t.tallyId === tallyId)?.status).toBe('confirmed')
    const info = await eventually(async () => {
      const n = await a.getNodeInfo()
      return n.activeListeners === 0 ? n : undefined
    })
    expect(info.activeListeners).toBe(0)
  })

  it('the node stops while its operator decides: it stops cleanly, B hears busy, and the session ends on record', async () => {
    const dirA = await world.tempDir()
    const started = async (dataDir: string): Promise<ConsoleService> => {
      const service = await createConsoleService({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
      services.push(service)
      await service.start()
      return service
    }
    const [a, b] = await Promise.all([started(dirA), started(await world.tempDir())])
    const created = await a.createToken({
      role: 'stock',
      approval: 'operator',
      identityRequirements: ['name']
    })
    const { sessionId } = await b.dial({ link: created.link, identity: { name: 'Sam' } })
    const waiting = await eventually(async () => (await a.listApprovals())[0])
    // a session event during the stop used to reach a closing store and throw out of an event listener
    await a.stop()
    expect(await b.waitDial({ sessionId })).toMatchObject({ ok: false, reason: 'busy' })
    const again = await started(dirA)
    const row = (await again.listSessions()).find((r) => r.sessionId === waiting.sessionId)
    expect(row?.state).toBe('L_FAILED')
    const ops = (await again.listOperations({})).map((o) => o.op)
    expect(ops).toContain('node-stop')
  })
})
