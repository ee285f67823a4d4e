/**
 * Connection-flood attacker, run as its own process by connection-flood.test.ts: `identities` peer ids
 * open `perIdentity` idle connections each to `target` (`dial` with `force: true`, never a stream), from
 * `localAddress`, and re-dial whatever A closes until the parent says stop or the attempt budget is spent.
 *
 * argv[2]: JSON AttackConfig. stdout: JSON lines `{ event: 'flooded' | 'done', ...AttackStats }`.
 * stdin: any line = stop.
 */
import '../../main/polyfill.ts'
import { createInterface } from 'node:readline'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Libp2p, PrivateKey } from '@libp2p/interface'

/** What the parent asks for. */
export interface AttackConfig {
  target: string
  identities: number
  perIdentity: number
  /** Nodes sharing one identity, so that one peer id still dials in parallel (libp2p joins parallel dials of one node). */
  workersPerIdentity: number
  /** Source address of every TCP connection (any of 127.0.0.0/8). */
  localAddress: string
  /** Dial attempts allowed in all, re-dials included: keeps the attack bounded. */
  maxAttempts: number
}

/** What the attacker reports. */
export interface AttackStats {
  attempts: number
  opened: number
  refused: number
  /** Connections open right now. */
  held: number
  /** Connections A closed on us after they opened. */
  closedByA: number
  /** The highest number held at once. */
  peakHeld: number
  /** Why dials failed: error name → count. */
  errors: Record<string, number>
}

const config = JSON.parse(process.argv[2]!) as AttackConfig
const target = multiaddr(config.target)
const stats: AttackStats = {
  attempts: 0,
  opened: 0,
  refused: 0,
  held: 0,
  closedByA: 0,
  peakHeld: 0,
  errors: {}
}
let stopping = false
const seen = new WeakSet<object>()

function report(event: string): void {
  process.stdout.write(`${JSON.stringify({ event, ...stats })}\n`)
}

async function attackerNode(privateKey: PrivateKey): Promise<Libp2p> {
  return createLibp2p({
    privateKey,
    addresses: { listen: [] },
    transports: [tcp({ dialOpts: { localAddress: config.localAddress } as Record<string, unknown> })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      maxConnections: 100_000,
      maxParallelDials: 1000,
      maxDialQueueLength: 100_000,
      dialTimeout: 30_000,
      addressDialTimeout: 30_000
    }
  })
}

/** One connection: dial, count, and once A closes it, dial again (if allowed). */
async function openOne(node: Libp2p): Promise<boolean> {
  if (stopping || stats.attempts >= config.maxAttempts) return false
  stats.attempts++
  try {
    const conn = await node.dial(target, { force: true, signal: AbortSignal.timeout(30_000) })
    // a re-dial that ran beside the loop's own dial joined it: same connection, nothing new
    if (seen.has(conn)) return true
    seen.add(conn)
    stats.opened++
    stats.held++
    stats.peakHeld = Math.max(stats.peakHeld, stats.held)
    conn.addEventListener(
      'close',
      () => {
        stats.held--
        if (stopping) return
        stats.closedByA++
        void openOne(node)
      },
      { once: true }
    )
    return true
  } catch (err) {
    stats.refused++
    const name = (err as Error).name
    stats.errors[name] = (stats.errors[name] ?? 0) + 1
    return false
  }
}

const nodes: Libp2p[] = []
for (let i = 0; i < config.identities; i++) {
  const key = await generateKeyPair('Ed25519')
  for (let w = 0; w < config.workersPerIdentity; w++) nodes.push(await attackerNode(key))
}
await Promise.all(
  nodes.map(async (node, n) => {
    const w = n % config.workersPerIdentity
    const share =
      Math.floor(config.perIdentity / config.workersPerIdentity) +
      (w < config.perIdentity % config.workersPerIdentity ? 1 : 0)
    // one dial at a time per node: parallel forced dials of one node join into one connection
    for (let i = 0; i < share; i++) await openOne(node)
  })
)
report('flooded')

createInterface({ input: process.stdin }).once('line', () => {
  stopping = true
  report('done')
  void Promise.allSettled(nodes.map((n) => n.stop())).then(() => process.exit(0))
})
