/**
 * Connection-table lockout: another process opens 1100 idle connections (`dial` with `force: true`, no
 * stream, no token) from one peer identity, then from 40, while 50 real customers (distinct peers, on
 * 127.0.0.1) bootstrap. At least 95 % of them succeed, the attacker never holds more than its per-peer /
 * per-IP share of A's connection table, and A's heap during the attack stays within a stated bound.
 * Lowdb only: the attack is on libp2p's connection table, refused before any session or store hook.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Libp2p } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { SessionManager } from '../../main/bootstrap/index.ts'
import { DEFAULT_CONNECTION_GUARD, RUSH_LIMITS, createTaleusNode } from '../../main/node/index.ts'
import type { ConnectionGuard, ConnectionGuardInit } from '../../main/node/index.ts'
import { openStore } from '../../main/store/index.ts'
import { ROOT } from '../helpers/built-cli.ts'
import { MemoryHooks } from '../integration/protocol-helpers.ts'
import type { AttackConfig, AttackStats } from './flood-attacker.ts'
import { dialerNodes, gc, removeDir, tempDir } from './helpers.ts'

const CUSTOMERS = 50
const MiB = 1024 * 1024
/** Live heap the attack may add to A (after a real GC) while it runs: 1024 idle connections cost ~35 MiB. */
const HEAP_BOUND_MIB = 16

const ATTACKER = join(ROOT, 'tests/hostile/flood-attacker.ts')
const REGISTER = pathToFileURL(join(ROOT, 'bench/register.js')).href

/** A running attacker process. */
interface Attack {
  child: ChildProcess
  /** Its stats once every first dial settled. */
  flooded: AttackStats
  /** Tells it to stop; resolves with its final stats. */
  stop(): Promise<AttackStats>
}

async function startAttack(config: AttackConfig): Promise<Attack> {
  const child = spawn(process.execPath, ['--import', REGISTER, ATTACKER, JSON.stringify(config)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8')
  })
  const waiters = new Map<string, (stats: AttackStats) => void>()
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString('utf8')
    let nl: number
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl)
      out = out.slice(nl + 1)
      const msg = JSON.parse(line) as AttackStats & { event: string }
      waiters.get(msg.event)?.(msg)
    }
  })
  const exited = new Promise<never>((_, rej) =>
    child.once('exit', (code) => rej(new Error(`attacker exited (${code}): ${err.slice(0, 800)}`)))
  )
  exited.catch(() => {})
  const next = (event: string): Promise<AttackStats> =>
    Promise.race([new Promise<AttackStats>((res) => waiters.set(event, res)), exited])
  const flooded = await next('flooded')
  return {
    child,
    flooded,
    async stop() {
      const done = next('done')
      child.stdin!.write('stop\n')
      return done
    }
  }
}

/** A (listener) with the real store, on a node built with `guard` options. */
interface Listener {
  node: Libp2p
  store: Awaited<ReturnType<typeof openStore>>
  addr(): string
  guard(): ConnectionGuard
  close(): Promise<void>
}

async function startListener(guard?: ConnectionGuardInit): Promise<Listener> {
  const dir = await tempDir('flood')
  const store = await openStore(dir, { auditFlushMs: 10 })
  const node = await createTaleusNode(guard === undefined ? {} : { connectionGuard: guard })
  const peerId = node.peerId.toString()
  const manager = new SessionManager(
    store.hooks({ peerId, multiaddrs: () => node.getMultiaddrs().map(String) }),
    { stepTimeoutMs: 15_000, sessionTimeoutMs: 30_000 }
  )
  await manager.start(node)
  return {
    node,
    store,
    addr: () => node.getMultiaddrs()[0]!.toString(),
    guard: () => node.services.connectionGuard as ConnectionGuard,
    async close() {
      await manager.stop()
      await node.stop()
      await store.close()
      await removeDir(dir)
    }
  }
}

async function bootstrapAll(A: Listener, customers: Libp2p[], token: string) {
  const link = { token, role: 'stock' as const, responderPeerAddrs: [A.addr()] }
  const outcomes = await Promise.allSettled(
    customers.map((node, i) =>
      new SessionManager(new MemoryHooks(`C${i}`), {
        stepTimeoutMs: 15_000,
        sessionTimeoutMs: 30_000
      }).initiateBootstrap(link, node)
    )
  )
  const ok = outcomes.filter((o) => o.status === 'fulfilled').length
  const failures = outcomes.flatMap((o) =>
    o.status === 'rejected' ? [`${(o.reason as Error).name}:${(o.reason as { reason?: string }).reason}`] : []
  )
  return { ok, failures }
}

/** Tracks, on A, how many connections not from a customer were open at most. */
function attackerShareOfTable(node: Libp2p, customers: Libp2p[]): { peak: number } {
  const ids = new Set(customers.map((c) => c.peerId.toString()))
  const counted = new Set<string>()
  const table = { peak: 0 }
  node.addEventListener('connection:open', ({ detail: conn }) => {
    if (ids.has(conn.remotePeer.toString())) return
    counted.add(conn.id)
    table.peak = Math.max(table.peak, counted.size)
  })
  node.addEventListener('connection:close', ({ detail: conn }) => counted.delete(conn.id))
  return table
}

/** One attack. */
interface Case {
  name: string
  identities: number
  perIdentity: number
  /** Attacker nodes per identity (dials in parallel under one peer id). */
  workers: number
  /** The attacker's source address. */
  from: string
  guard?: ConnectionGuardInit
}

describe('connection flood', () => {
  let A: Listener | undefined
  let attack: Attack | undefined
  const nodes: Libp2p[] = []
  afterEach(async () => {
    attack?.child.kill()
    attack = undefined
    await Promise.all(nodes.splice(0).map((n) => n.stop()))
    await A?.close()
    A = undefined
  })

  it.each([
    // the reviewer's attack: one peer id, from the customers' own address (only the per-peer cap applies)
    {
      name: '1 identity × 1100 from 127.0.0.1',
      identities: 1,
      perIdentity: 1100,
      workers: 16,
      from: '127.0.0.1'
    },
    // 40 peer ids from another host: the per-IP cap refuses them before any handshake
    {
      name: '40 identities × 28 from 127.0.0.2',
      identities: 40,
      perIdentity: 28,
      workers: 1,
      from: '127.0.0.2'
    },
    // 40 peer ids sharing the customers' address: per-peer caps and the idle reaper
    {
      name: '40 identities × 28 from 127.0.0.1',
      identities: 40,
      perIdentity: 28,
      workers: 1,
      from: '127.0.0.1'
    },
    // the same with a table whose free room ends at 100 connections and no reaping during the test:
    // eviction alone must keep room for the customers
    {
      name: '40 identities × 28 from 127.0.0.1, room ends at 100',
      identities: 40,
      perIdentity: 28,
      workers: 1,
      from: '127.0.0.1',
      guard: { headroom: RUSH_LIMITS.maxConnections - 100, idleGraceMs: 600_000 }
    }
  ] as Case[])(
    '$name: 50 real customers still get in, A stays within its memory bound',
    async ({ name, identities, perIdentity, workers, from, guard }) => {
      const collect = gc()
      A = await startListener(guard)
      const { token } = await A.store.createToken({ role: 'stock', uses: 'unlimited' })
      // customers exist (keys, nodes) before the baseline but are not connected: they come during the attack
      const customers = await dialerNodes(CUSTOMERS)
      nodes.push(...customers)
      collect()
      const baseline = process.memoryUsage()
      const table = attackerShareOfTable(A.node, customers)

      attack = await startAttack({
        target: A.addr(),
        identities,
        perIdentity,
        workersPerIdentity: workers,
        localAddress: from,
        maxAttempts: 3 * identities * perIdentity
      })
      collect()
      const during = process.memoryUsage()

      const { ok, failures } = await bootstrapAll(A, customers, token)
      const final = await attack.stop()
      const stats = A.guard().stats()
      const heapGrowth = (during.heapUsed - baseline.heapUsed) / MiB
      const rssGrowth = (during.rss - baseline.rss) / MiB
      console.info(
        `connection flood (${name}): attacker first pass ${attack.flooded.opened} opened / ${attack.flooded.refused} refused, ` +
          `peak held ${final.peakHeld}, ${final.closedByA} closed by A, ${final.attempts} attempts; ` +
          `A's table held at most ${table.peak} attacker connections (guard ${JSON.stringify(stats)}); ${ok}/${CUSTOMERS} customers succeeded; ` +
          `heap ${(baseline.heapUsed / MiB).toFixed(1)} → ${(during.heapUsed / MiB).toFixed(1)} MiB (+${heapGrowth.toFixed(1)}), ` +
          `rss +${rssGrowth.toFixed(1)} MiB; dial errors ${JSON.stringify(final.errors)}`
      )
      // the attack reached A (a broken attacker would prove nothing)
      expect(final.opened).toBeGreaterThan(0)

      expect(ok, `failures: ${failures.join(',')}`).toBeGreaterThanOrEqual(Math.ceil(CUSTOMERS * 0.95))
      expect(A.store.listTallies().filter((t) => t.status === 'confirmed')).toHaveLength(ok)
      // the attacker never held more than its share of A's table (per peer, or per IP)
      const share =
        from === '127.0.0.1'
          ? identities * DEFAULT_CONNECTION_GUARD.maxConnectionsPerPeer
          : DEFAULT_CONNECTION_GUARD.maxConnectionsPerIp
      expect(table.peak).toBeLessThanOrEqual(share)
      if (guard?.headroom !== undefined) expect(stats.evicted).toBeGreaterThan(0)
      expect(heapGrowth).toBeLessThan(HEAP_BOUND_MIB)
    },
    240_000
  )
})
