/**
 * Session-abuse attacker, run as its own process by session-abuse.test.ts. Modes:
 * - `pin`: each identity sends `contacts` contacts with an operator-approval token and waits; on a
 *   `leave` line on stdin the whole process disconnects (stops its nodes) without a word.
 * - `never-ack`: each identity loops at full speed: contact, read A's response, never send the Ack (the
 *   stream stays open until A gives up on it).
 * - `farm`: one attempt after another, each from a fresh identity: contact, take the approved response,
 *   reset the stream instead of the Ack.
 * - `reject`: each identity floods contacts with a wrong token, one stream after another.
 * argv[2]: JSON AttackConfig. stdout: JSON lines `{ event, ...AttackStats }`. stdin: `leave` / `stop`.
 */
import '../../main/polyfill.ts'
import { createInterface } from 'node:readline'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Libp2p, Stream } from '@libp2p/interface'

const PROTOCOL_ID = '/taleus/bootstrap/1.0.0'

/** What the parent asks for. */
export interface AttackConfig {
  mode: 'pin' | 'never-ack' | 'farm' | 'reject'
  target: string
  token: string
  identities: number
  /** pin: contacts per identity. */
  contacts?: number
  /** never-ack: attempt loops run at once per identity. Default 1. */
  parallel?: number
  /** never-ack, farm, reject: attempts in all (keeps the attack bounded). */
  maxAttempts?: number
  /** Source address of every TCP connection (any of 127.0.0.0/8). */
  localAddress: string
  /** Identity bundle sent in each contact (the largest allowed makes each attempt cost A most). */
  identityBundle?: Record<string, string>
}

/** What the attacker reports. */
export interface AttackStats {
  attempts: number
  /** Approved ProvisioningResults received. */
  approved: number
  /** Replies by reason (rejections), plus `reset`/`eof` for streams A ended without a reply. */
  replies: Record<string, number>
  errors: Record<string, number>
}

const config = JSON.parse(process.argv[2]!) as AttackConfig
const target = multiaddr(config.target)
const stats: AttackStats = { attempts: 0, approved: 0, replies: {}, errors: {} }
let stopping = false
const nodes: Libp2p[] = []
const held: Stream[] = []

function report(event: string): void {
  process.stdout.write(`${JSON.stringify({ event, ...stats })}\n`)
}

function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1
}

async function node(): Promise<Libp2p> {
  const n = await createLibp2p({
    addresses: { listen: [] },
    transports: [tcp({ dialOpts: { localAddress: config.localAddress } as Record<string, unknown> })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ maxEarlyStreams: 2048 } as Record<string, unknown>)],
    connectionManager: { maxConnections: 10_000, maxParallelDials: 1000 }
  })
  nodes.push(n)
  return n
}

function contact(from: Libp2p, token = config.token): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      type: 'InboundContact',
      token,
      partyId: from.peerId.toString(),
      identityBundle: config.identityBundle ?? {},
      cadrePeerAddrs: []
    })
  )
}

/** One contact: returns A's first reply (`approved` or a reason), and the open stream. */
async function attempt(from: Libp2p, token?: string): Promise<{ reply: string; stream?: Stream }> {
  stats.attempts++
  let stream: Stream
  try {
    stream = await from.dialProtocol(target, PROTOCOL_ID, {
      signal: AbortSignal.timeout(30_000),
      maxOutboundStreams: 4096
    })
  } catch (err) {
    count(stats.errors, (err as Error).name)
    return { reply: 'dial-failed' }
  }
  const lp = lpStream(stream, { maxDataLength: 1024 * 1024 })
  try {
    await lp.write(contact(from, token), { signal: AbortSignal.timeout(30_000) })
    const body = JSON.parse(
      new TextDecoder().decode((await lp.read({ signal: AbortSignal.timeout(60_000) })).subarray())
    ) as { approved?: boolean; reason?: string }
    const reply = body.approved === true ? 'approved' : String(body.reason)
    if (reply === 'approved') stats.approved++
    else count(stats.replies, reply)
    // tells the parent once A began refusing the attack (it then knows the limits bite)
    if (stats.replies['busy'] === 10) report('refused')
    return { reply, stream }
  } catch (err) {
    const reset = stream.status === 'reset' || stream.status === 'aborted'
    count(stats.replies, reset ? 'reset' : (err as Error).name)
    stream.abort(new Error('attacker done'))
    return { reply: 'reset' }
  }
}

async function pin(): Promise<void> {
  const attackers = await Promise.all(Array.from({ length: config.identities }, () => node()))
  await Promise.all(attackers.map((n) => n.dial(target)))
  const pending: Array<Promise<unknown>> = []
  for (const n of attackers) {
    for (let i = 0; i < (config.contacts ?? 1); i++) {
      stats.attempts++
      pending.push(
        (async () => {
          const stream = await n.dialProtocol(target, PROTOCOL_ID, { maxOutboundStreams: 4096 })
          held.push(stream)
          const lp = lpStream(stream, { maxDataLength: 1024 * 1024 })
          await lp.write(contact(n), { signal: AbortSignal.timeout(30_000) })
          // busy replies come at once; approvals never (nobody approves): read what comes
          void lp
            .read()
            .then((b) => {
              const body = JSON.parse(new TextDecoder().decode(b.subarray())) as { reason?: string }
              count(stats.replies, String(body.reason))
            })
            .catch(() => {})
        })().catch((err: Error) => count(stats.errors, err.name))
      )
    }
  }
  await Promise.all(pending)
  report('pinned')
}

async function neverAck(): Promise<void> {
  const attackers = await Promise.all(Array.from({ length: config.identities }, () => node()))
  await Promise.all(attackers.map((n) => n.dial(target)))
  const budget = config.maxAttempts ?? 1000
  const loops = attackers.flatMap((n) => Array.from({ length: config.parallel ?? 1 }, () => n))
  await Promise.all(
    loops.map(async (n) => {
      while (!stopping && stats.attempts < budget) {
        const { stream } = await attempt(n)
        // keep whatever A left open: A has to give up on it by itself
        if (stream != null && stream.status === 'open') held.push(stream)
      }
    })
  )
}

async function farm(): Promise<void> {
  const budget = config.maxAttempts ?? 100
  const pool = await Promise.all(Array.from({ length: config.identities }, () => node()))
  for (let i = 0; i < budget && !stopping; i++) {
    const { stream } = await attempt(pool[i % pool.length]!)
    stream?.abort(new Error('never acking'))
  }
}

async function reject(): Promise<void> {
  const attackers = await Promise.all(Array.from({ length: config.identities }, () => node()))
  const budget = config.maxAttempts ?? 1000
  await Promise.all(
    attackers.map(async (n) => {
      while (!stopping && stats.attempts < budget) {
        const { stream } = await attempt(n, 'not-a-token-of-yours')
        stream?.abort(new Error('next'))
      }
    })
  )
}

async function leave(): Promise<void> {
  stopping = true
  await Promise.allSettled(nodes.map((n) => n.stop()))
  report('left')
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'leave' || line.trim() === 'stop') {
    void leave().then(() => process.exit(0))
  }
})

const run = { pin, 'never-ack': neverAck, farm, reject }[config.mode]
run()
  .then(() => report('done'))
  .catch((err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`)
    process.exit(1)
  })
