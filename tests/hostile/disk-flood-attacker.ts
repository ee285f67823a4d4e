/**
 * Tokenless contact flood, run as its own process by disk-flood.test.ts: `identities` peer ids each keep
 * `concurrency` bootstrap streams busy on one connection, every stream a contact with a made-up token,
 * as fast as A answers, for `durationMs`.
 *
 * argv[2]: JSON FloodConfig. stdout: one JSON line `{ event: 'done', ...FloodStats }` at the end.
 */
import '../../main/polyfill.ts'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'

const PROTOCOL_ID = '/taleus/bootstrap/1.0.0'

/** What the parent asks for. */
export interface FloodConfig {
  target: string
  identities: number
  concurrency: number
  durationMs: number
}

/** What the attacker reports. */
export interface FloodStats {
  /** Contacts A answered with a refusal frame. */
  contacts: number
  /** Refusals by reason. */
  reasons: Record<string, number>
  /** Streams that failed without a frame (reset, refused stream). */
  errors: number
  elapsedMs: number
}

const config = JSON.parse(process.argv[2]!) as FloodConfig
const target = multiaddr(config.target)
const stats: FloodStats = { contacts: 0, reasons: {}, errors: 0, elapsedMs: 0 }
const encoder = new TextEncoder()
const decoder = new TextDecoder()

async function node(): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

/** One contact with a token A never issued; resolves once A answered or ended the stream. */
async function contact(from: Libp2p, partyId: string): Promise<void> {
  const signal = AbortSignal.timeout(10_000)
  const stream = await from.dialProtocol(target, PROTOCOL_ID, { maxOutboundStreams: 100_000, signal })
  try {
    const lp = lpStream(stream)
    const body = {
      type: 'InboundContact',
      token: `not-a-token-${Math.random().toString(36).slice(2)}`,
      partyId,
      identityBundle: {},
      cadrePeerAddrs: []
    }
    await lp.write(encoder.encode(JSON.stringify(body)), { signal })
    const reply = JSON.parse(decoder.decode((await lp.read({ signal })).subarray())) as { reason?: string }
    const reason = reply.reason ?? 'none'
    stats.contacts++
    stats.reasons[reason] = (stats.reasons[reason] ?? 0) + 1
  } finally {
    if (stream.status === 'open') stream.abort(new Error('done'))
  }
}

const nodes = await Promise.all(Array.from({ length: config.identities }, node))
const started = performance.now()
const until = started + config.durationMs
await Promise.all(
  nodes.flatMap((n) =>
    Array.from({ length: config.concurrency }, async () => {
      const partyId = n.peerId.toString()
      while (performance.now() < until) {
        try {
          await contact(n, partyId)
        } catch {
          stats.errors++
          // a refused stream (A's stream limit) or reset: do not spin on it
          await new Promise((r) => setTimeout(r, 5))
        }
      }
    })
  )
)
stats.elapsedMs = Math.round(performance.now() - started)
process.stdout.write(`${JSON.stringify({ event: 'done', ...stats })}\n`)
await Promise.allSettled(nodes.map(async (n) => n.stop()))
process.exit(0)
