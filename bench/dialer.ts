/**
 * Benchmark dialers (party B): `count` fresh peers (own key, own libp2p node, own connection), created
 * before the clock starts, then run `concurrency` at a time against the listener. `baseline` moves the
 * stock flow's frames over a bare stream; `bootstrap` runs the real DialerSession through a
 * SessionManager per peer (a wallet's side: it provisions nothing, accepts A's response). `refuse`
 * (`fresh` | `reused`) runs the bootstrap with a token A does not know, so A refuses every contact: each
 * from a fresh peer, or all over a few connections opened before the clock starts; a refusal is the
 * expected outcome there and counts as done. `tallydb`: each peer also holds a TallyDb (issue I) and stores
 * A's new document (handed over in the ProvisioningResult) before it says yes, as a wallet with the shared
 * database does.
 */
import '../main/polyfill.ts'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import type { Libp2p } from '@libp2p/interface'
import { RejectedError, SessionManager, parseLink } from '../main/bootstrap/index.ts'
import type { BootstrapLink, SessionHooks } from '../main/bootstrap/index.ts'
import { createTaleusNode } from '../main/node/index.ts'
import { joinDocument } from '../main/tallydb/bootstrap-hooks.ts'
import { TallyDb } from '../main/tallydb/index.ts'
import { onMessages, send } from './lib/child.ts'
import { startBurstProfiles } from './lib/burst-profile.ts'
import { startPerf } from './lib/perf-record.ts'
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

/** BENCH_DIALER_PERF=DIR: `perf record` of the measured burst (start with BENCH_DIALER_ARGS=--perf-basic-prof-only-functions). */
const perfDir = process.env.BENCH_DIALER_PERF

let peers: Peer[] = []
/** The first peers of `peers`, served before the clock (their nodes stop once that is done). */
let warmPeers: Peer[] = []
/** A reused-connection run: opens its few connections to A (on `retire`, right before the burst). */
let connectReused: (() => Promise<void>) | undefined
/** Peers already run by earlier `go` messages of this preparation. */
let started = 0
let nodes: Libp2p[] = []
/** The peers' tally databases (tallydb runs) and their folders, closed and removed on stop. */
const dbs: TallyDb[] = []
const dbDirs: string[] = []
/**
 * `fresh` | `reused` when A is expected to refuse every contact (unknown token); `idle` when every measured
 * peer only connects and waits for A to close the connection; else undefined.
 */
let refuse: string | undefined
/** Refusals by reason in this burst (`invalid-token` unless an abuse guard answered first). */
let refusals: Record<string, number> = {}

/** The same link with a token A never issued: A answers `invalid-token`. */
function unknownToken(link: BootstrapLink): BootstrapLink {
  return { ...link, token: randomBytes(16).toString('base64url') }
}

/** A refused contact is the expected outcome of a refuse run; anything else is a failure. */
async function refused(run: Promise<unknown>): Promise<void> {
  try {
    await run
  } catch (err) {
    if (err instanceof RejectedError) {
      const reason = failureName(err)
      refusals[reason] = (refusals[reason] ?? 0) + 1
      return
    }
    throw err
  }
  throw new Error('the contact was accepted')
}

/**
 * A wallet with the shared database: validateResponse stores A's document as the stores' hooks do
 * (joinDocument: from the ProvisioningResult itself, or opened with the grant from a 1.0.0 listener).
 */
async function walletWithDb(node: Libp2p): Promise<SessionHooks> {
  const dir = await mkdtemp(join(tmpdir(), 'taleus-bench-wallet-'))
  dbDirs.push(dir)
  const db = await TallyDb.open({ dir, libp2p: node, grantKey: randomBytes(32), reconnectMs: 0 })
  await db.start()
  dbs.push(db)
  return {
    ...WALLET_HOOKS,
    validateResponse: async (response, ctx) => {
      const provision = response.provisionResult
      if (provision === undefined) return false
      await joinDocument(db, provision, undefined, ctx)
      return true
    }
  }
}

async function preparePeer(
  mode: string,
  target: string,
  link: BootstrapLink | undefined,
  timeoutMs: number,
  tallydb: boolean,
  refuseThis: boolean,
  warmRefusal = false
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
  if (refuseThis && refuse === 'idle') return { node, run: () => idleUntilClosed(node, link!, timeoutMs) }
  const hooks = tallydb ? await walletWithDb(node) : WALLET_HOOKS
  const manager = new SessionManager(hooks, { maxConcurrentSessions: 4 })
  return {
    node,
    async run() {
      if (refuseThis) await refused(manager.initiateBootstrap(unknownToken(link!), node))
      else await manager.initiateBootstrap(link!, node)
      // a warm-up peer of a refuse run: then one refused contact on its open connection, so the
      // listener's refusal path is as warm as its served path when the clock starts
      if (warmRefusal) await refused(manager.initiateBootstrap(unknownToken(link!), node))
    }
  }
}

/**
 * A stranger who connects (the whole handshake) and then sends nothing: done once A's connection guard
 * has closed the idle connection (after its grace, 5 s by default), which is what such a flood costs A.
 */
async function idleUntilClosed(node: Libp2p, link: BootstrapLink, timeoutMs: number): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs)
  const connection = await node.dial(multiaddr(link.responderPeerAddrs[0]!), { signal })
  if (connection.status !== 'open') return
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      node.removeEventListener('connection:close', closed)
      signal.removeEventListener('abort', timedOut)
    }
    const closed = (evt: CustomEvent<{ id: string }>): void => {
      if (evt.detail.id !== connection.id) return
      done()
      resolve()
    }
    const timedOut = (): void => {
      done()
      reject(new Error('A kept an idle connection open'))
    }
    node.addEventListener('connection:close', closed)
    signal.addEventListener('abort', timedOut)
  })
}

/**
 * `count` contacts spread over `connections` peers, each connected to A before the clock starts: what a
 * refusal costs A when no handshake is part of it.
 */
async function prepareReused(
  link: BootstrapLink,
  count: number,
  connections: number
): Promise<{ peers: Peer[]; connect(): Promise<void> }> {
  const made = await Promise.all(
    Array.from({ length: Math.max(1, Math.min(count, connections)) }, async () => {
      const node = await createTaleusNode({ listen: [] })
      return { node, manager: new SessionManager(WALLET_HOOKS, { maxConcurrentSessions: 4096 }) }
    })
  )
  return {
    peers: Array.from({ length: count }, (_, i) => {
      const { node, manager } = made[i % made.length]!
      return { node, run: () => refused(manager.initiateBootstrap(unknownToken(link), node)) }
    }),
    // dialled right before the burst: A closes a connection left idle for a few seconds (a warm-up)
    connect: async () => {
      await Promise.all(made.map(({ node }) => node.dial(multiaddr(link.responderPeerAddrs[0]!))))
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
      // `warm` of `count` are served before the clock: real bootstraps from fresh peers; in a refuse run
      // each then makes one refused contact too (one per peer: A's per-peer abuse bucket stays full)
      const count = message.count as number
      const warm = Math.min(count, (message.warm as number | undefined) ?? 0)
      refuse = message.refuse as string | undefined
      // the held-memory run keeps every baseline stream waiting for A's reply far longer than a burst
      const timeoutMs = (message.timeoutMs as number | undefined) ?? 30_000
      const made: Peer[] = []
      const reused =
        refuse === 'reused'
          ? await prepareReused(link!, count - warm, message.connections as number)
          : undefined
      connectReused = reused?.connect
      // a few at a time: key generation and node start are CPU work
      const fresh = reused !== undefined ? warm : count
      for (let i = 0; i < fresh; i += 50) {
        const batch = Math.min(50, fresh - i)
        let ready = 0
        // a batch that takes this long is stuck somewhere: say where, for the next one to find it
        const watchdog = setTimeout(() => {
          process.stderr.write(
            `bench dialer: peers ${i}–${i + batch} of ${fresh} still not ready after 30 s (${ready} of ${batch} are)\n`
          )
        }, 30_000)
        made.push(
          ...(await Promise.all(
            Array.from({ length: batch }, async (_, j) => {
              const refuseThis = refuse != null && i + j >= warm
              const peer = await preparePeer(
                mode,
                target,
                link,
                timeoutMs,
                // a tallydb run: the measured peers and the last `dbWarm` of the warm-up hold a tally
                // database; the earlier warm-up peers take A's document and keep nothing (A's side of it,
                // the part measured, is the same), so a long warm-up costs no thousands of folders
                message.tallydb === true && i + j >= warm - ((message.dbWarm as number | undefined) ?? warm),
                refuseThis,
                refuse != null && i + j < warm
              )
              ready++
              return peer
            })
          ))
        )
        clearTimeout(watchdog)
      }
      peers = [...made, ...(reused?.peers ?? [])]
      started = 0
      nodes = [...new Set(peers.map((p) => p.node))]
      warmPeers = made.slice(0, warm)
      send({ type: 'prepared', rss: process.memoryUsage.rss() })
      break
    }
    case 'go': {
      const concurrency = message.concurrency as number
      const latencies: number[] = []
      const failures: Record<string, number> = {}
      refusals = {}
      // `take`: only the next so many peers (a warm-up burst before the measured one); default: all left
      const end = Math.min(peers.length, started + ((message.take as number | undefined) ?? peers.length))
      let next = started
      started = end
      // a warm-up burst's profiles are replaced by the measured burst's (same files)
      const profiles = await startBurstProfiles('dialer')
      // the measured burst alone (a warm-up's has `take`)
      const stopPerf =
        perfDir != null && perfDir !== '' && message.take === undefined
          ? await startPerf(perfDir, 'dialer')
          : undefined
      const cpuBefore = process.cpuUsage()
      const start = performance.now()
      const worker = async (): Promise<void> => {
        while (next < end) {
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
      await Promise.all(Array.from({ length: Math.min(concurrency, end - next) }, worker))
      const wallMs = performance.now() - start
      const cpu = process.cpuUsage(cpuBefore)
      await stopPerf?.()
      await profiles.stop()
      send({ type: 'done', latencies, failures, refusals, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 })
      break
    }
    case 'retire': {
      // before the burst: the warm-up's peers hang up, so the listener's table holds only the measured
      // burst's connections; a reused-connection run opens its connections now
      await Promise.allSettled(warmPeers.map((p) => p.node.stop()))
      await connectReused?.()
      send({ type: 'retired' })
      break
    }
    case 'stop': {
      await Promise.allSettled(dbs.map((db) => db.close()))
      await Promise.allSettled(nodes.map((node) => node.stop()))
      await Promise.allSettled(dbDirs.map((dir) => rm(dir, { recursive: true, force: true })))
      send({ type: 'stopped' })
      process.exit(0)
    }
  }
})

send({ type: 'ready' })
