/**
 * Session abuse by strangers and token holders (issue E, items 2–4): attackers run in a separate process
 * (session-attacker.ts) from their own loopback address (127.0.0.2+), the 50 real customers from
 * 127.0.0.1, against A with the real store and the default abuse limits.
 * - approval pinning: 100 contacts on an operator-approval token, then the attacker disconnects;
 * - never-Ack: contacts on the customers' own multi-use token that take the approved response and never
 *   send the Ack;
 * - farming a single-use token with never-Ack attempts from fresh identities;
 * - a rush where customers give up (take A's answer, send no Ack) more often than the token's burst, with
 *   tallies made in between: the public QR stays open;
 * - a flood of rejected contacts: answered `busy` with no hook call, per peer and per IP;
 * - a revoked token's session in flight ends `token-revoked`; a dead address ends `unreachable`.
 * The cases about what the store keeps (approvals, abandoned drafts, token uses, revocation) run on lowdb
 * and on PostgreSQL; the rejected-contact flood and the dead address are answered before any store hook
 * (the abuse guard, the dialer), so they run once, on lowdb.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Libp2p } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_ABUSE_LIMITS, RejectedError, SessionManager } from '../../main/bootstrap/index.ts'
import type { BootstrapLink, SessionEvent } from '../../main/bootstrap/index.ts'
import { ROOT } from '../helpers/built-cli.ts'
import { MemoryHooks } from '../integration/protocol-helpers.ts'
import type { AttackConfig, AttackStats } from './session-attacker.ts'
import { dialerNodes, hostileStores, startStoreListener } from './helpers.ts'
import type { StoreListener } from './helpers.ts'

const CUSTOMERS = 50
const ATTACKER = join(ROOT, 'tests/hostile/session-attacker.ts')
const REGISTER = pathToFileURL(join(ROOT, 'bench/register.js')).href
/** A bundle near the contact's limits: each approved attempt costs A as much as it can. */
const BIG_BUNDLE = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`field${i}`, 'x'.repeat(200)]))

/** A running attacker process. */
interface Attack {
  child: ChildProcess
  /** Resolves with the stats of the first line reporting `event`. */
  next(event: string): Promise<AttackStats>
  /** Sends a line (`leave`/`stop`) and resolves with the `left` stats once the process exited. */
  end(line?: string): Promise<AttackStats>
}

/** Every attacker process started and not yet exited: a test that starts several stops them all. */
const running = new Set<ChildProcess>()

/** Kills every attacker process still running (afterEach: none outlives its test). */
function killAttackers(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  running.clear()
}

function startAttack(config: AttackConfig): Attack {
  const child = spawn(process.execPath, ['--import', REGISTER, ATTACKER, JSON.stringify(config)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe']
  })
  running.add(child)
  child.once('exit', () => running.delete(child))
  let out = ''
  let err = ''
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8')
  })
  const seen = new Map<string, AttackStats>()
  const waiters = new Map<string, (stats: AttackStats) => void>()
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString('utf8')
    let nl: number
    while ((nl = out.indexOf('\n')) >= 0) {
      const msg = JSON.parse(out.slice(0, nl)) as AttackStats & { event: string }
      out = out.slice(nl + 1)
      seen.set(msg.event, msg)
      waiters.get(msg.event)?.(msg)
    }
  })
  const exited = new Promise<never>((_, rej) =>
    child.once('exit', (code) => rej(new Error(`attacker exited (${code}): ${err.slice(0, 800)}`)))
  )
  exited.catch(() => {})
  const next = (event: string): Promise<AttackStats> => {
    const known = seen.get(event)
    if (known !== undefined) return Promise.resolve(known)
    return Promise.race([new Promise<AttackStats>((res) => waiters.set(event, res)), exited])
  }
  return {
    child,
    next,
    async end(line = 'stop') {
      if (child.exitCode !== null) return seen.get('done') ?? seen.get('left')!
      const left = next('left')
      child.stdin!.write(`${line}\n`)
      return left
    }
  }
}

/** Runs 50 customers at once on `link`; returns how many succeeded and why the others failed. */
async function customers(nodes: Libp2p[], link: BootstrapLink): Promise<{ ok: number; failures: string[] }> {
  const outcomes = await Promise.allSettled(
    nodes.map((node, i) =>
      new SessionManager(new MemoryHooks(`C${i}`), {
        stepTimeoutMs: 20_000,
        sessionTimeoutMs: 60_000,
        identityBundle: { email: `c${i}@example.com` }
      }).initiateBootstrap(link, node)
    )
  )
  const failures = outcomes.flatMap((o) =>
    o.status === 'rejected'
      ? [`${(o.reason as Error).name}:${String((o.reason as { reason?: string }).reason)}`]
      : []
  )
  return { ok: outcomes.length - failures.length, failures }
}

/** Resolves once `check()` holds, re-checked on every session event and store approval event. */
function until(A: StoreListener, check: () => boolean, guardMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      off()
      reject(new Error('guard: the condition never held'))
    }, guardMs)
    const probe = (): void => {
      if (!check()) return
      off()
      resolve()
    }
    const off = (): void => {
      clearTimeout(guard)
      A.manager.removeEventListener('session', probe)
      A.store.removeEventListener('approval', probe)
      A.store.removeEventListener('approval-resolved', probe)
    }
    A.manager.addEventListener('session', probe)
    A.store.addEventListener('approval', probe)
    A.store.addEventListener('approval-resolved', probe)
    probe()
  })
}

describe.each(hostileStores())('session abuse on $name', (kind) => {
  let A: StoreListener | undefined
  let attack: Attack | undefined
  const nodes: Libp2p[] = []
  afterEach(async () => {
    killAttackers()
    attack = undefined
    await Promise.all(nodes.splice(0).map((n) => n.stop()))
    await A?.close()
    A = undefined
  })

  it('approval pinning: 100 contacts on an operator token, then the attacker leaves: customers served, no ghost', async () => {
    A = await startStoreListener({ kind, stepTimeoutMs: 5000, sessionTimeoutMs: 30_000 })
    const pinned = await A.store.createToken({
      role: 'stock',
      uses: 'unlimited',
      approval: 'operator',
      approvalTimeoutMs: 120_000
    })
    const open = await A.store.createToken({ role: 'stock', uses: 'unlimited' })
    attack = startAttack({
      mode: 'pin',
      target: A.addr(),
      token: pinned.token,
      identities: 4,
      contacts: 25,
      localAddress: '127.0.0.2',
      identityBundle: BIG_BUNDLE
    })
    const nodesC = await dialerNodes(CUSTOMERS)
    nodes.push(...nodesC)
    await attack.next('pinned')
    const cap = DEFAULT_ABUSE_LIMITS.maxApprovalsPerToken
    await until(A, () => A!.store.listApprovals().length >= cap)
    const pinnedApprovals = A.store.listApprovals().length
    const pinnedSessions = A.manager.getActiveListenerCount()

    const served = await customers(nodesC, {
      token: open.token,
      role: 'stock',
      responderPeerAddrs: [A.addr()]
    })

    // the attacker vanishes without a word: every session and approval card of its must go at once
    await attack.end('leave')
    await until(A, () => A!.store.listApprovals().length === 0 && A!.manager.getActiveListenerCount() === 0)
    const abandoned = A.events.filter(
      (e) => e.tokenId === pinned.view.tokenId && e.state === 'L_FAILED' && e.reason !== 'busy'
    )
    console.info(
      `approval pinning: ${pinnedApprovals} approvals pinned (cap ${cap}), ${pinnedSessions} listener sessions; ` +
        `${served.ok}/${CUSTOMERS} customers ok; after the attacker left: ${A.store.listApprovals().length} ghost approvals, ` +
        `${A.manager.getActiveListenerCount()} sessions; refusals ${JSON.stringify(A.manager.getRefusalCounts())}`
    )
    expect(served.ok, served.failures.join(',')).toBeGreaterThanOrEqual(Math.ceil(CUSTOMERS * 0.95))
    expect(pinnedApprovals).toBeLessThanOrEqual(cap)
    expect(abandoned.length).toBe(pinnedApprovals)
    expect(A.store.getToken(pinned.view.tokenId)?.used).toBe(0)
  })

  it('never-Ack on the customers’ own multi-use token: customers served, abandoned attempts bounded per peer', async () => {
    A = await startStoreListener({ kind, stepTimeoutMs: 3000, sessionTimeoutMs: 30_000 })
    const { token, view } = await A.store.createToken({ role: 'stock', uses: 'unlimited' })
    const identities = 4
    attack = startAttack({
      mode: 'never-ack',
      target: A.addr(),
      token,
      identities,
      parallel: 8,
      maxAttempts: 5000,
      localAddress: '127.0.0.2',
      identityBundle: BIG_BUNDLE
    })
    const nodesC = await dialerNodes(CUSTOMERS)
    nodes.push(...nodesC)
    // the attack is in full swing: A answered 40 of its contacts and held them for the Ack
    await until(
      A,
      () => A!.events.filter((e) => e.state === 'L_AWAIT_ACK' && e.tokenId === view.tokenId).length >= 40
    )
    const served = await customers(nodesC, { token, role: 'stock', responderPeerAddrs: [A.addr()] })
    // A refuses the attacker's peers by now (or soon: their first attempts are charged as they time out)
    await attack.next('refused')
    const stats = await attack.end('stop')
    await A.idle()

    const limits = DEFAULT_ABUSE_LIMITS
    // one table's worth per identity before the first is charged, then the burst: a bound, not a rate
    const bound = identities * (limits.maxSessionsPerPeer + limits.abandonedPerPeer.burst + 1)
    const abandoned = A.store.listTallies().filter((t) => t.status === 'abandoned').length
    console.info(
      `never-Ack: attacker ${stats.attempts} attempts, ${stats.approved} approved, replies ${JSON.stringify(stats.replies)}; ` +
        `${served.ok}/${CUSTOMERS} customers ok; ${abandoned} abandoned drafts (bound ${bound}); ` +
        `refusals ${JSON.stringify(A.manager.getRefusalCounts())}`
    )
    expect(served.ok, served.failures.join(',')).toBeGreaterThanOrEqual(Math.ceil(CUSTOMERS * 0.95))
    expect(stats.approved).toBeLessThanOrEqual(bound)
    expect(stats.replies['busy'] ?? 0).toBeGreaterThan(0)
    expect(A.store.listTallies().filter((t) => t.status === 'confirmed')).toHaveLength(served.ok)
  })

  it('a single-use token cannot be farmed by never-Ack attempts from fresh identities', async () => {
    A = await startStoreListener({ kind, stepTimeoutMs: 3000, sessionTimeoutMs: 30_000 })
    const { token, view } = await A.store.createToken({ role: 'stock', uses: 1 })
    const t0 = Date.now()
    attack = startAttack({
      mode: 'farm',
      target: A.addr(),
      token,
      identities: 20,
      maxAttempts: 100,
      localAddress: '127.0.0.3',
      identityBundle: BIG_BUNDLE
    })
    const stats = await attack.next('done')
    await A.idle()
    const limit = DEFAULT_ABUSE_LIMITS.abandonedPerLimitedToken
    // burst, what refilled meanwhile, and one attempt that may slip in before the previous is charged
    const bound = limit.burst + Math.ceil(((Date.now() - t0) / 1000) * limit.perSecond) + 1
    console.info(
      `single-use farming: ${stats.attempts} attempts, ${stats.approved} approved (bound ${bound}), ` +
        `replies ${JSON.stringify(stats.replies)}, used ${A.store.getToken(view.tokenId)?.used}`
    )
    expect(stats.attempts).toBe(100)
    expect(stats.approved).toBeGreaterThan(0)
    expect(stats.approved).toBeLessThanOrEqual(bound)
    expect(stats.replies['busy'] ?? 0).toBeGreaterThan(0)
    // the token is still good for its one real customer once the attacker is gone
    expect(A.store.getToken(view.tokenId)?.used).toBe(0)
  })

  it('customers who give up in a rush do not lock the public QR: each tally made on it pays one back', async () => {
    A = await startStoreListener({ kind, stepTimeoutMs: 3000, sessionTimeoutMs: 30_000 })
    const { token } = await A.store.createToken({ role: 'stock', uses: 'unlimited' })
    const link: BootstrapLink = { token, role: 'stock', responderPeerAddrs: [A.addr()] }
    const nodesC = await dialerNodes(CUSTOMERS)
    nodes.push(...nodesC)
    const { burst } = DEFAULT_ABUSE_LIMITS.abandonedPerToken
    // customers who take A's answer and leave without their Ack, each a fresh identity: to A, a rush's
    // customers giving up on a slow node
    const giveUp = async (attempts: number, localAddress: string): Promise<AttackStats> => {
      attack = startAttack({
        mode: 'farm',
        target: A!.addr(),
        token,
        identities: attempts,
        maxAttempts: attempts,
        localAddress
      })
      const stats = await attack.next('done')
      await A!.idle()
      return stats
    }
    // a rush's customers come from many hosts: at most 20 from each (under the per-IP bound of its own)
    let host = 10
    const giveUpFromHosts = async (attempts: number): Promise<{ approved: number }> => {
      let approved = 0
      for (let left = attempts; left > 0; left -= 20)
        approved += (await giveUp(Math.min(20, left), `127.0.0.${host++}`)).approved
      return { approved }
    }
    const first = await giveUpFromHosts(burst - 20)
    const servedBetween = await customers(nodesC, link)
    // more gave up in all than the token's burst, but the tallies made in between paid most of them back
    const second = await giveUpFromHosts(CUSTOMERS)
    const servedAfter = await customers(nodesC, link)
    console.info(
      `rush with customers giving up: ${first.approved} + ${second.approved} gave up (burst ${burst}), ` +
        `${servedBetween.ok} and ${servedAfter.ok}/${CUSTOMERS} served; refusals ${JSON.stringify(A.manager.getRefusalCounts())}`
    )
    expect(first.approved).toBe(burst - 20)
    expect(servedBetween.ok, servedBetween.failures.join(',')).toBe(CUSTOMERS)
    expect(second.approved).toBe(CUSTOMERS)
    expect(servedAfter.ok, servedAfter.failures.join(',')).toBeGreaterThanOrEqual(Math.ceil(CUSTOMERS * 0.95))
    expect(A.manager.getRefusalCounts()['token-abandoned']).toBe(0)
  })

  it('one host minting a peer id per abandoned attempt is stopped at its own bound; the public QR stays open', async () => {
    A = await startStoreListener({ kind, stepTimeoutMs: 3000, sessionTimeoutMs: 30_000 })
    const { token } = await A.store.createToken({ role: 'stock', uses: 'unlimited' })
    const link: BootstrapLink = { token, role: 'stock', responderPeerAddrs: [A.addr()] }
    const nodesC = await dialerNodes(CUSTOMERS)
    nodes.push(...nodesC)
    const limits = DEFAULT_ABUSE_LIMITS
    attack = startAttack({
      mode: 'farm',
      target: A.addr(),
      token,
      identities: 200,
      maxAttempts: 200,
      localAddress: '127.0.0.6'
    })
    const stats = await attack.next('done')
    await A.idle()
    const served = await customers(nodesC, link)
    const refusals = A.manager.getRefusalCounts()
    console.info(
      `one host, a fresh peer id per attempt: ${stats.approved} abandoned of 200, ${served.ok}/${CUSTOMERS} served; refusals ${JSON.stringify(refusals)}`
    )
    // each of its first streams came in before any was charged: at most a few past the bound
    expect(stats.approved).toBeLessThanOrEqual(limits.abandonedPerIp.burst + 10)
    expect(stats.approved).toBeLessThan(limits.abandonedPerToken.burst)
    expect(refusals['ip-abandoned']).toBeGreaterThan(0)
    expect(refusals['token-abandoned']).toBe(0)
    expect(served.ok, served.failures.join(',')).toBe(CUSTOMERS)
  })

  it('revoking a token ends its sessions in flight with token-revoked', async () => {
    A = await startStoreListener({ kind, stepTimeoutMs: 5000, sessionTimeoutMs: 30_000 })
    const { token, view } = await A.store.createToken({
      role: 'stock',
      uses: 'unlimited',
      approval: 'operator',
      approvalTimeoutMs: 60_000
    })
    const [b] = await dialerNodes(1)
    nodes.push(b!)
    const dialing = new SessionManager(new MemoryHooks('B'), { stepTimeoutMs: 5000 }).initiateBootstrap(
      { token, role: 'stock', responderPeerAddrs: [A.addr()], approvalTimeoutMs: 60_000 },
      b!
    )
    dialing.catch(() => {})
    await until(A, () => A!.store.listApprovals().length === 1)
    await A.store.revokeToken(view.tokenId)
    expect(A.manager.abortSessions({ tokenId: view.tokenId }, new RejectedError('token-revoked'))).toBe(1)
    await expect(dialing).rejects.toMatchObject({ name: 'RejectedError', reason: 'token-revoked' })
    await A.idle()
    expect(A.store.listApprovals()).toEqual([])
    expect(A.events.at(-1)).toMatchObject({ state: 'L_FAILED', reason: 'token-revoked' })
    expect(A.store.listTallies().filter((t) => t.status === 'confirmed')).toEqual([])
  })
})

describe('session abuse answered before any store hook (once, on lowdb)', () => {
  let A: StoreListener | undefined
  let attack: Attack | undefined
  const nodes: Libp2p[] = []
  afterEach(async () => {
    killAttackers()
    attack = undefined
    await Promise.all(nodes.splice(0).map((n) => n.stop()))
    await A?.close()
    A = undefined
  })

  it('a flood of rejected contacts is answered busy before any hook, per peer and per IP', async () => {
    let validations = 0
    A = await startStoreListener({ stepTimeoutMs: 3000 })
    // count every validateToken call: a refused contact must never reach a hook
    const hooks = (A.manager as unknown as { hooks: { validateToken: (...a: unknown[]) => unknown } }).hooks
    const validate = hooks.validateToken.bind(hooks)
    hooks.validateToken = (...args: unknown[]) => {
      validations++
      return validate(...args)
    }
    const t0 = Date.now()
    attack = startAttack({
      mode: 'reject',
      target: A.addr(),
      token: 'x',
      identities: 1,
      maxAttempts: 1500,
      localAddress: '127.0.0.4'
    })
    const one = await attack.next('done')
    const afterOne = validations
    const secondsOne = (Date.now() - t0) / 1000
    const peerLimit = DEFAULT_ABUSE_LIMITS.rejectedPerPeer
    const peerBound = peerLimit.burst + Math.ceil(secondsOne * peerLimit.perSecond) + 1

    // 40 identities from one address: the per-IP bucket holds them all
    const t1 = Date.now()
    attack = startAttack({
      mode: 'reject',
      target: A.addr(),
      token: 'x',
      identities: 40,
      maxAttempts: 3000,
      localAddress: '127.0.0.5'
    })
    const many = await attack.next('done')
    await A.idle()
    const secondsMany = (Date.now() - t1) / 1000
    const ipLimit = DEFAULT_ABUSE_LIMITS.rejectedPerIp
    const ipBound = ipLimit.burst + Math.ceil(secondsMany * ipLimit.perSecond) + 40
    const sessions = new Set(A.events.map((e: SessionEvent) => e.sessionId)).size
    console.info(
      `rejected flood: 1 identity ${one.attempts} contacts in ${secondsOne.toFixed(1)} s → ${afterOne} hook calls ` +
        `(bound ${peerBound}), replies ${JSON.stringify(one.replies)}; 40 identities ${many.attempts} contacts in ` +
        `${secondsMany.toFixed(1)} s → ${validations - afterOne} hook calls (bound ${ipBound}), replies ${JSON.stringify(many.replies)}; ` +
        `${sessions} sessions audited; refusals ${JSON.stringify(A.manager.getRefusalCounts())}`
    )
    expect(afterOne).toBeLessThanOrEqual(peerBound)
    expect(one.replies['busy']).toBeGreaterThanOrEqual(one.attempts - peerBound)
    expect(validations - afterOne).toBeLessThanOrEqual(ipBound)
    expect(sessions).toBe(validations)

    // a customer from another address is served all along
    const [c] = await dialerNodes(1)
    nodes.push(c!)
    const { token } = await A.store.createToken({ role: 'stock', uses: 1 })
    const result = await new SessionManager(new MemoryHooks('C'), { stepTimeoutMs: 5000 }).initiateBootstrap(
      { token, role: 'stock', responderPeerAddrs: [A.addr()] },
      c!
    )
    expect(result.tally.tallyId).toBeTypeOf('string')
  })

  it('a node that cannot be reached ends the dial with reason unreachable', async () => {
    const [b] = await dialerNodes(1)
    nodes.push(b!)
    const port = await new Promise<number>((res) => {
      const srv = createServer()
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port
        srv.close(() => res(p))
      })
    })
    const peer = (await dialerNodes(1))[0]!
    nodes.push(peer)
    const dial = new SessionManager(new MemoryHooks('B'), {
      stepTimeoutMs: 2000,
      dialTimeoutMs: 5000
    }).initiateBootstrap(
      {
        token: 'whatever',
        role: 'stock',
        responderPeerAddrs: [`/ip4/127.0.0.1/tcp/${port}/p2p/${peer.peerId.toString()}`]
      },
      b!
    )
    await expect(dial).rejects.toMatchObject({ name: 'DialFailedError', reason: 'unreachable' })
  })
})
