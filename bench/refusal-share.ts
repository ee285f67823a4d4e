/**
 * What Taleus itself costs per refused contact (invalid-token) on an open connection, without TCP, Noise
 * or Yamux: one in-memory connection (@libp2p/utils mock muxer), a new stream per contact, CPU of both
 * ends per contact for a bare handler (read the contact, write the same refusal bytes, close) and for the
 * SessionManager; their difference is the manager's share. Rounds interleaved; with BENCH_BEFORE=DIR
 * (another checkout, e.g. a `git worktree` of the commit before) its manager runs in the same process too.
 * Run: node --expose-gc --import ./bench/register.js bench/refusal-share.ts [contacts per round] [rounds]
 */
import '../main/polyfill.ts'
import { lpStream, mockMuxer, multiaddrConnectionPair } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import * as current from '../main/bootstrap/index.ts'
import { encodeMessage } from '../main/bootstrap/messages.ts'

type Bootstrap = typeof current
const peer = '12D3KooWGRYZDHBembyGJQqQ6WgLqJWYZ3pBLHvfTrqWfmrFiwGA'
const connection = {
  remotePeer: { toString: () => peer },
  remoteAddr: multiaddr('/ip4/127.0.0.1/tcp/1'),
  addEventListener() {},
  removeEventListener() {}
}
const contact = new TextEncoder().encode(
  JSON.stringify({
    type: 'InboundContact',
    token: 'x'.repeat(43),
    partyId: peer,
    identityBundle: {},
    cadrePeerAddrs: []
  })
)
const refusal = encodeMessage({ type: 'ProvisioningResult', approved: false, reason: 'invalid-token' })
const refusalText = new TextDecoder().decode(refusal)

function manager(mod: Bootstrap): (stream: Stream) => Promise<void> {
  const m = new mod.SessionManager(
    {
      validateToken: async () => {
        throw new mod.RejectedError('invalid-token')
      },
      provisionDatabase: async () => {
        throw new Error('never reached')
      },
      logSessionEvent: async () => {}
    },
    {
      localPeerId: 'QmListener',
      abuseLimits: { rejectedPerPeer: mod.NO_RATE_LIMIT, rejectedPerIp: mod.NO_RATE_LIMIT }
    }
  )
  // a watcher, as the console has: the session events are built and dispatched
  m.addEventListener('session', () => {})
  return (stream) => m.handleNewStream(stream, connection as never)
}

const variants: Record<string, (stream: Stream) => Promise<void>> = {
  bare: async (stream) => {
    const lp = lpStream(stream)
    await lp.read()
    await lp.write(refusal)
    await stream.close()
  },
  current: manager(current)
}
if (process.env.BENCH_BEFORE != null) {
  variants.before = manager(
    (await import(`${process.env.BENCH_BEFORE}/main/bootstrap/index.ts`)) as Bootstrap
  )
}

const [outbound, inbound] = multiaddrConnectionPair()
const local = mockMuxer().createStreamMuxer(outbound)
const remote = mockMuxer().createStreamMuxer(inbound)
let nextInbound: ((stream: Stream) => void) | undefined
remote.addEventListener('stream', (e) => nextInbound?.(e.detail))

async function contactOnce(handler: (stream: Stream) => Promise<void>): Promise<void> {
  const arrived = new Promise<Stream>((resolve) => (nextInbound = resolve))
  const dialer = await local.createStream()
  const handled = handler(await arrived)
  const lp = lpStream(dialer)
  await lp.write(contact)
  const answer = await lp.read()
  await dialer.close()
  await handled
  if (new TextDecoder().decode(answer.subarray()) !== refusalText)
    throw new Error('different bytes on the wire')
}

const perRound = Number(process.argv[2] ?? 2000)
const rounds = Number(process.argv[3] ?? 5)
const names = Object.keys(variants)
const runs: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]))
for (const k of names) for (let i = 0; i < 1000; i++) await contactOnce(variants[k]!)
for (let r = 0; r < rounds; r++) {
  for (const k of r % 2 === 0 ? names : [...names].reverse()) {
    ;(globalThis as { gc?: () => void }).gc?.()
    const start = process.cpuUsage()
    for (let i = 0; i < perRound; i++) await contactOnce(variants[k]!)
    const used = process.cpuUsage(start)
    runs[k]!.push((used.user + used.system) / perRound)
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
for (const k of names) {
  const extra =
    k === 'bare' ? '' : `  manager's share ${Math.round(median(runs[k]!) - median(runs.bare!))} µs`
  console.log(
    `${k.padEnd(8)} ${Math.round(median(runs[k]!))} µs/contact (runs ${runs[k]!.map(Math.round).join(' ')})${extra}`
  )
}
