/**
 * Benchmark listener (party A), one per measured run: `baseline` is a bare libp2p node whose handler
 * moves the frames of a stock bootstrap and does nothing else; `bootstrap` is the real console service
 * (SessionManager, lowdb store hooks, audit trail, live session table) with an unlimited stock token.
 * Reports peak RSS, active sessions after the run and the listener-side outcomes to bench/run.js.
 * With BENCH_HOLD=1 (the held-memory run) no session finishes on its own: the bootstrap's token waits for
 * an operator's approval (so every session parks in L_PROCESS_CONTACT) and the baseline handler holds its
 * stream after the contact frame, until run.js sends `release`.
 */
import '../main/polyfill.ts'
import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import type { Libp2p } from '@libp2p/interface'
import { createTaleusNode } from '../main/node/index.ts'
import { openJournal } from '../main/store/journal.ts'
import { createConsoleService } from '../main/service/index.ts'
import type { ConsoleService } from '../main/service/index.ts'
import { MAX_INBOUND_STREAMS } from '../main/bootstrap/index.ts'
import { warmDocumentEngine } from '../main/tallydb/warm-up.ts'
import {
  RssSampler,
  collectGarbage,
  onMessages,
  send,
  settledMemory,
  sleep,
  threadCpuMs
} from './lib/child.ts'
import { BASELINE_PROTOCOL, provisioningFrame } from './lib/frames.ts'
import { startBurstProfiles } from './lib/burst-profile.ts'
import type { BurstProfiles } from './lib/burst-profile.ts'
import { startPerf } from './lib/perf-record.ts'

const mode = process.env.BENCH_MODE as 'baseline' | 'bootstrap'
const dataDir = process.env.BENCH_DATA_DIR ?? ''
/** Sessions allowed in flight: above the sweep's largest concurrency, so the cap never answers `busy`. */
const maxConcurrentSessions = Number(process.env.BENCH_MAX_SESSIONS ?? 4096)
const hold = process.env.BENCH_HOLD === '1'
/**
 * BENCH_BASELINE_DURABLE=1 (profile-run.js `durable`): the bare node also pays the store's durability
 * contract, two durable appends in a row before it closes (a line of the trail, then the tally's line),
 * with the store's own group-committing journal. What Taleus costs beyond that is its own code.
 */
const durableBaseline = process.env.BENCH_BASELINE_DURABLE === '1'
/** BENCH_REFUSE=1: a run where every measured contact is refused (bench/run.js sweep, refuse variants). */
const refuseRun = process.env.BENCH_REFUSE === '1'
/** BENCH_BURST_PROF / BENCH_BURST_HEAP (bench/lib/burst-profile.ts): profiles of the burst alone (mark to report). */
let profiles: BurstProfiles | undefined
/**
 * BENCH_PERF=DIR: `perf record` of this process (every thread, kernel included) during the burst alone;
 * start the listener with BENCH_LISTENER_ARGS=--perf-basic-prof-only-functions for JS names. Where the
 * V8 profile shows wall time (a thread preempted in a syscall counts there), this shows CPU.
 */
const perfDir = process.env.BENCH_PERF
let stopPerf: (() => Promise<void>) | undefined
/** Long enough for 1000 fresh handshakes, the GC and the samples: a held session must not time out. */
const HOLD_MS = 120_000

const sampler = new RssSampler()
const outcomes: Record<string, number> = {}
let activeCount: () => Promise<number> = async () => 0
let stop: () => Promise<void> = async () => {}
let rssBefore = 0
let cpuBefore = process.cpuUsage()
let threadsBefore = threadCpuMs()
/** Sessions parked right now (baseline: streams held after the contact; bootstrap: pending approvals). */
let heldCount: () => Promise<number> = async () => 0
/** Lets every held session go on (baseline: reply; bootstrap: the operator rejects them all). */
let releaseAll: () => Promise<number> = async () => 0
/**
 * A tallydb run: CPU ms per first read of the documents made in the burst (up to `n`), where the engine
 * makes each one's first state (derived, bootstrap 1.3.0): the cost the bootstrap no longer pays.
 */
let firstReads: (n: number) => Promise<number | undefined> = async () => undefined

function count(outcome: string): void {
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
}

async function startBaseline(): Promise<{ addr: string }> {
  const node: Libp2p = await createTaleusNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  const addr = node.getMultiaddrs()[0]!.toString()
  const listenerPeerId = node.peerId.toString()
  const journals = durableBaseline
    ? await Promise.all(['audit.jsonl', 'tallies.jsonl'].map(async (f) => openJournal(join(dataDir, f))))
    : []
  const [trail, tallies] = journals.map((j) => j.journal)
  let active = 0
  let held = 0
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  await node.handle(
    BASELINE_PROTOCOL,
    async (stream, connection) => {
      active++
      let signal = AbortSignal.timeout(30_000)
      try {
        const lp = lpStream(stream)
        await lp.read({ signal })
        if (hold) {
          held++
          try {
            await released
          } finally {
            held--
          }
          signal = AbortSignal.timeout(30_000)
        }
        await lp.write(provisioningFrame(listenerPeerId, connection.remotePeer.toString(), addr), { signal })
        const ack = await lp.read({ signal })
        if (trail !== undefined && tallies !== undefined) {
          // about the bytes of a session's four trail events and of a confirmed tally's line
          const peer = connection.remotePeer.toString()
          await trail.append([0, 1, 2, 3].map((n) => JSON.stringify({ peer, n, pad: 'x'.repeat(200) })))
          await tallies.append([JSON.stringify({ peer, bytes: ack.byteLength, pad: 'x'.repeat(800) })])
        }
        await stream.close({ signal })
        count('done')
      } catch (err) {
        count((err as Error).name ?? 'error')
        stream.abort(err as Error)
      } finally {
        active--
      }
    },
    { maxInboundStreams: MAX_INBOUND_STREAMS, maxOutboundStreams: MAX_INBOUND_STREAMS }
  )
  activeCount = async () => active
  heldCount = async () => held
  releaseAll = async () => {
    const n = held
    release()
    return n
  }
  stop = async () => {
    await node.stop()
    await Promise.all(journals.map(async (j) => j.journal.close()))
  }
  return { addr }
}

async function startBootstrap(): Promise<{ addr: string; link: string }> {
  const service: ConsoleService = await createConsoleService({
    dataDir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    maxConcurrentSessions,
    abuseLimits: {
      // one listener serves every warm-up and rep on one token: thousands of tallies in a minute, more
      // than a merchant's public QR takes by default (confirmedPerToken), as a stadium's node configures it
      confirmedPerToken: { burst: Number.MAX_SAFE_INTEGER, perSecond: 0 },
      // the held run parks every session waiting for the operator on one token: above the guard's default
      // of 16 waiting per token (issue E), as a merchant expecting such a queue configures it
      ...(hold ? { maxApprovalsPerToken: maxConcurrentSessions } : {}),
      // a refuse run measures the flood of many addresses (each contact an `invalid-token` session), not
      // the per-IP bucket's cheaper `busy`: every bench dialer shares 127.0.0.1, and a reused-connection
      // run sends many contacts per peer (docs/performance.md)
      ...(refuseRun
        ? {
            rejectedPerIp: { burst: Number.MAX_SAFE_INTEGER, perSecond: 0 },
            rejectedPerPeer: { burst: Number.MAX_SAFE_INTEGER, perSecond: 0 }
          }
        : {})
    },
    // the shared tally database only where the run measures it (BENCH_TALLYDB=1; bench/run.js tallydb)
    tallyDb: process.env.BENCH_TALLYDB === '1'
  })
  await service.start()
  // a console window is open during a rush: keep one subscriber on the live stream, as the UI does
  service.subscribe((events) => {
    for (const event of events) {
      if (event.kind === 'session' && event.session.done) count(event.session.state)
    }
  })
  const token = await service.createToken({
    role: 'stock',
    uses: 'unlimited',
    label: 'bench',
    ...(hold ? { approval: 'operator' as const, approvalTimeoutMs: HOLD_MS } : {})
  })
  heldCount = async () => (await service.listApprovals()).length
  releaseAll = async () => {
    let n = 0
    for (const approval of await service.listApprovals()) {
      const result = await service.decide({ sessionId: approval.sessionId, decision: 'reject' })
      if (result.applied) n++
    }
    return n
  }
  activeCount = async () => {
    const info = await service.getNodeInfo()
    return info.activeListeners + info.activeDialers
  }
  if (process.env.BENCH_TALLYDB === '1')
    firstReads = async (n) => {
      const tallies = (await service.listTallies()).slice(0, n)
      const before = process.cpuUsage()
      for (const t of tallies) await service.getTallyDocument({ tallyId: t.tallyId })
      const cpu = process.cpuUsage(before)
      return tallies.length === 0 ? undefined : (cpu.user + cpu.system) / 1000 / tallies.length
    }
  stop = () => service.stop()
  return { addr: service.multiaddrs()[0]!, link: token.link }
}

onMessages(async (message) => {
  switch (message.type) {
    case 'mark': {
      // the service warms the document engine once, in the background, at start (about 0.5 s of CPU): a
      // merchant's first customer comes after that, so the burst does too (the call joins that warm-up)
      if (mode === 'bootstrap' && process.env.BENCH_TALLYDB === '1') await warmDocumentEngine()
      if (message.gc !== false) collectGarbage()
      // BENCH_MARK_LOG=1: a line where the clock starts, to split a --trace-opt/--trace-deopt log
      if (process.env.BENCH_MARK_LOG === '1') console.log('=== MARK')
      await sleep(50)
      sampler.reset()
      rssBefore = sampler.sample()
      profiles = await startBurstProfiles(mode)
      if (perfDir != null && perfDir !== '') stopPerf = await startPerf(perfDir, mode)
      cpuBefore = process.cpuUsage()
      threadsBefore = threadCpuMs()
      for (const key of Object.keys(outcomes)) delete outcomes[key]
      send({ type: 'marked', rss: rssBefore })
      break
    }
    case 'idle': {
      send({ type: 'idle', memory: await settledMemory() })
      break
    }
    case 'hold': {
      // every session parked (or the wait gave up), then the memory they hold, without garbage
      const want = message.count as number
      const waitMs = (message.waitMs as number | undefined) ?? 90_000
      const until = performance.now() + waitMs
      let n = await heldCount()
      while (n < want && performance.now() < until) {
        await sleep(100)
        n = await heldCount()
      }
      const memory = await settledMemory()
      send({ type: 'held', held: await heldCount(), active: await activeCount(), memory })
      break
    }
    case 'release': {
      send({ type: 'released', released: await releaseAll() })
      break
    }
    case 'report': {
      const peakRss = sampler.peak
      const cpu = process.cpuUsage(cpuBefore)
      const threads = threadCpuMs()
      await stopPerf?.()
      stopPerf = undefined
      await profiles?.stop()
      profiles = undefined
      // sessions end just after the dialer's verdict (A settles, then closes): give them a moment
      let active = await activeCount()
      for (let i = 0; i < 100 && active > 0; i++) {
        await sleep(50)
        active = await activeCount()
      }
      // the live stream delivers the last outcomes within its batching interval (50 ms)
      await sleep(150)
      // after the measured CPU: what an operator's first look at each new tally costs later
      const firstReadMs = await firstReads(200)
      send({
        ...(firstReadMs === undefined ? {} : { firstReadMs }),
        type: 'report',
        rssBefore,
        peakRss,
        cpuMs: (cpu.user + cpu.system) / 1000,
        // the main thread's share, and the rest: V8's compiler and GC helpers, libuv's pool (fs writes)
        ...(threads !== undefined && threadsBefore !== undefined
          ? {
              mainCpuMs: threads.main - threadsBefore.main,
              otherCpuMs: threads.others - threadsBefore.others
            }
          : {}),
        active,
        outcomes: { ...outcomes }
      })
      break
    }
    case 'stop': {
      sampler.stop()
      await stop()
      send({ type: 'stopped' })
      process.exit(0)
    }
  }
})

const ready = mode === 'baseline' ? await startBaseline() : await startBootstrap()
send({ type: 'ready', ...ready })
