/**
 * Benchmark dialers (party B): `count` fresh peers (own key, own libp2p node, own connection), created
 * before the clock starts, then run `concurrency` at a time against the listener. `baseline` moves the
 * stock flow's frames over a bare stream; `bootstrap` runs the real DialerSession through a
 * SessionManager per peer (a wallet's side: it provisions nothing, accepts A's response).
 */
import '../main/polyfill.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import type { Libp2p } from '@libp2p/interface'
import { RejectedError, SessionManager, parseLink } from '../main/bootstrap/index.ts'
import type { BootstrapLink, SessionHooks } from '../main/bootstrap/index.ts'
import { createTaleusNode } from '../main/node/index.ts'
import { onMessages, send } from './lib/child.ts'
import { BASELINE_PROTOCOL, ackFrame, contactFrame } from './lib/frames.ts'

interface Peer {
  node: Libp2p
  run(): Promise<void>
}

/** A wallet's hooks: never a listener, never the provisioning side in stock. */
const WALLET_HOOKS: SessionHooks = {
  validateToken: async () => {
    throw new RejectedError('invalid-token')
  },
  provisionDatabase: async () => {
    throw new Error('this wallet does not provision')
  },
  validateResponse: async () => true
}

let peers: Peer[] = []

async function preparePeer(
  mode: string,
  target: string,
  link: BootstrapLink | undefined,
  timeoutMs: number
): Promise<Peer> {
  const node = await createTaleusNode({ listen: [] })
  if (mode === 'baseline') {
    const addr = multiaddr(target)
    const contact = contactFrame(node.peerId.toString())
    const ack = ackFrame()
    return {
      node,
      async run() {
        const signal = AbortSignal.timeout(timeoutMs)
        const stream = await node.dialProtocol(addr, BASELINE_PROTOCOL, { signal })
        try {
          const lp = lpStream(stream)
          await lp.write(contact, { signal })
          await lp.read({ signal })
          await lp.write(ack, { signal })
          // A closes after the Ack: its EOF ends the flow, as in a bootstrap
          try {
            await lp.read({ signal })
            throw new Error('frame after the last message')
          } catch (err) {
            if ((err as Error).name !== 'UnexpectedEOFError') throw err
          }
          await stream.close({ signal })
        } catch (err) {
          stream.abort(err as Error)
          throw err
        }
      }
    }
  }
  const manager = new SessionManager(WALLET_HOOKS, { maxConcurrentSessions: 4 })
  return {
    node,
    async run() {
      await manager.initiateBootstrap(link!, node)
    }
  }
}

function failureName(err: unknown): string {
  const e = err as { reason?: string; name?: string } | null
  return e?.reason ?? e?.name ?? 'error'
}

onMessages(async (message) => {
  switch (message.type) {
    case 'prepare': {
      const mode = message.mode as string
      const target = message.target as string
      const link = mode === 'bootstrap' ? parseLink(target) : undefined
      const count = message.count as number
      // the held-memory run keeps every baseline stream waiting for A's reply far longer than a burst
      const timeoutMs = (message.timeoutMs as number | undefined) ?? 30_000
      const made: Peer[] = []
      // a few at a time: key generation and node start are CPU work
      for (let i = 0; i < count; i += 50) {
        const batch = Math.min(50, count - i)
        made.push(
          ...(await Promise.all(
            Array.from({ length: batch }, () => preparePeer(mode, target, link, timeoutMs))
          ))
        )
      }
      peers = made
      send({ type: 'prepared', rss: process.memoryUsage.rss() })
      break
    }
    case 'go': {
      const concurrency = message.concurrency as number
      const latencies: number[] = []
      const failures: Record<string, number> = {}
      let next = 0
      const cpuBefore = process.cpuUsage()
      const start = performance.now()
      const worker = async (): Promise<void> => {
        while (next < peers.length) {
          const peer = peers[next++]!
          const t0 = performance.now()
          try {
            await peer.run()
            latencies.push(performance.now() - t0)
          } catch (err) {
            const name = failureName(err)
            failures[name] = (failures[name] ?? 0) + 1
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(concurrency, peers.length) }, worker))
      const wallMs = performance.now() - start
      const cpu = process.cpuUsage(cpuBefore)
      send({ type: 'done', latencies, failures, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 })
      break
    }
    case 'stop': {
      await Promise.allSettled(peers.map((p) => p.node.stop()))
      send({ type: 'stopped' })
      process.exit(0)
    }
  }
})

send({ type: 'ready' })
