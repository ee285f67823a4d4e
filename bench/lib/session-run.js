// One measured run: a listener child, 1–2 dialer children with pre-created fresh peers, one burst.
import { mkdir, rm } from 'node:fs/promises'
import { Child } from './children.js'
import { quantile, round } from './stats.js'

/**
 * Runs `count` sessions of `mode` ('baseline' | 'bootstrap') with `concurrency` in flight against a new
 * listener on `dataDir` (bootstrap only). Returns throughput, latency percentiles, failures, RSS figures.
 * `refuse` ('fresh' | 'reused', bootstrap only): every contact carries a token A never issued, from a
 * fresh peer each or over connections opened before the clock (one per concurrent contact); a refusal
 * counts as done. `tallydb` (bootstrap only): A serves a shared document per tally and every dialer opens
 * and syncs it before the bootstrap succeeds (issue I); without it, neither side has the database.
 * `dbWarm`: in a tallydb run, only the last so many warm-up peers hold a database of their own.
 */
async function runSessionsOnce({
  mode,
  concurrency,
  count,
  dataDir,
  refuse,
  tallydb = false,
  durable = false,
  warm = Number(process.env.BENCH_WARM ?? 0),
  dbWarm,
  onMark
}) {
  const listener = new Child(
    'listener.ts',
    {
      BENCH_MODE: mode,
      BENCH_DATA_DIR: dataDir ?? '',
      BENCH_TALLYDB: tallydb ? '1' : '0',
      BENCH_REFUSE: refuse != null ? '1' : '0',
      // the baseline with the store's two durable appends per customer (bench/listener.ts)
      BENCH_BASELINE_DURABLE: durable ? '1' : '0'
    },
    process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : []
  )
  const dialers = []
  try {
    const ready = await listener.waitFor('ready', 60_000)
    const target = mode === 'baseline' ? ready.addr : ready.link
    // two dialer processes once there is parallelism to share, so one dialer event loop is not the limit
    const parts = concurrency >= 10 ? 2 : 1
    const dialerProf = process.env.BENCH_CPU_PROF
      ? ['--cpu-prof', '--cpu-prof-dir', `${process.env.BENCH_CPU_PROF}/dialers`]
      : []
    for (let i = 0; i < parts; i++) dialers.push(new Child('dialer.ts', {}, dialerProf))
    await Promise.all(dialers.map((d) => d.waitFor('ready', 60_000)))
    await Promise.all(
      dialers.map((d, i) =>
        d.request(
          {
            type: 'prepare',
            mode,
            target,
            count: share(count, parts, i) + share(warm, parts, i),
            warm: share(warm, parts, i),
            refuse,
            tallydb,
            ...(dbWarm !== undefined ? { dbWarm: share(dbWarm, parts, i) } : {}),
            connections: share(concurrency, parts, i)
          },
          'prepared',
          300_000
        )
      )
    )
    if (warm > 0) {
      // a burst before the clock, not measured: the listener's code is compiled and its caches filled
      // (at c=1 ten at a time: thousands of lone customers would take minutes and compile the same code)
      const warmConcurrency = Math.max(concurrency, 10)
      const warmed = await Promise.all(
        dialers.map((d, i) =>
          d.request(
            { type: 'go', concurrency: share(warmConcurrency, parts, i), take: share(warm, parts, i) },
            'done',
            600_000
          )
        )
      )
      // not measured, but said: a warm-up that lost sessions leaves the listener's abuse guard holding
      // them against the token, and the measured burst may then meet `busy`
      const lost = {}
      for (const d of warmed) for (const [k, v] of Object.entries(d.failures)) lost[k] = (lost[k] ?? 0) + v
      if (Object.keys(lost).length > 0)
        process.stderr.write(`bench: the warm-up lost sessions: ${JSON.stringify(lost)}\n`)
    }
    await Promise.all(dialers.map((d) => d.request({ type: 'retire' }, 'retired', 60_000)))
    // the listener sees the hang-ups close
    if (warm > 0) await new Promise((resolve) => setTimeout(resolve, 300))
    // a warmed listener is measured as it runs in a rush: without the forced GC before the clock, which
    // throws away optimised code and costs the burst hundreds of recompilations (docs/performance.md)
    onMark?.()
    const marked = await listener.request({ type: 'mark', gc: warm === 0 }, 'marked', 60_000)
    const start = performance.now()
    const done = await Promise.all(
      dialers.map((d, i) =>
        d.request({ type: 'go', concurrency: share(concurrency, parts, i) }, 'done', 600_000)
      )
    )
    const wallMs = performance.now() - start
    const report = await listener.request({ type: 'report' }, 'report', 60_000)
    const latencies = done.flatMap((d) => d.latencies)
    const failures = {}
    for (const d of done)
      for (const [k, v] of Object.entries(d.failures)) failures[k] = (failures[k] ?? 0) + v
    const failed = Object.values(failures).reduce((a, b) => a + b, 0)
    const refusals = {}
    for (const d of done)
      for (const [k, v] of Object.entries(d.refusals ?? {})) refusals[k] = (refusals[k] ?? 0) + v
    return {
      mode,
      ...(tallydb ? { tallydb } : {}),
      ...(refuse != null ? { refuse, refusals } : {}),
      concurrency,
      count,
      ok: latencies.length,
      failed,
      failures,
      wallMs: round(wallMs),
      throughput: round(latencies.length / (wallMs / 1000), 2),
      p50: round(quantile(latencies, 0.5)),
      p95: round(quantile(latencies, 0.95)),
      p99: round(quantile(latencies, 0.99)),
      // listener CPU per completed session: robust to other load on the machine, unlike wall time
      listenerCpuMsPerSession: round(report.cpuMs / Math.max(1, latencies.length), 2),
      // a tallydb run: listener CPU of the first read of a new tally's document, after the burst
      ...(report.firstReadMs !== undefined ? { firstReadMs: round(report.firstReadMs, 3) } : {}),
      // its split (Linux, 10 ms ticks): the event loop's thread, and V8's compiler/GC and libuv's threads
      ...(report.mainCpuMs !== undefined
        ? {
            listenerMainCpuMsPerSession: round(report.mainCpuMs / Math.max(1, latencies.length), 2),
            listenerOtherCpuMsPerSession: round(report.otherCpuMs / Math.max(1, latencies.length), 2)
          }
        : {}),
      // the dialers share the same 2 cores: their CPU also bounds the throughput
      dialerCpuMsPerSession: round(
        done.reduce((n, d) => n + (d.cpuMs ?? 0), 0) / Math.max(1, latencies.length),
        2
      ),
      rssBeforeMiB: round(marked.rss / 2 ** 20),
      peakRssMiB: round(report.peakRss / 2 ** 20),
      rssPerSessionKiB: round((report.peakRss - report.rssBefore) / 1024 / concurrency),
      activeAfter: report.active,
      listenerOutcomes: report.outcomes
    }
  } finally {
    await Promise.allSettled(dialers.map((d) => d.stop()))
    await listener.stop()
  }
}

/**
 * A dialer process has (rarely, in large runs) stopped answering while it prepares its peers, idle and
 * without its watchdog firing; the error says where its main thread was. Such a run is repeated once
 * with new processes, so one stuck child does not cost the whole section.
 */
async function retryStuckPreparation(label, dataDir, run) {
  try {
    return await run()
  } catch (err) {
    if (!/no 'prepared' within/.test(err?.message ?? '')) throw err
    process.stderr.write(`bench: ${label}: ${err.message}; running it again\n`)
    // the stopped listener's store (and its lock) must not carry over into the repeat
    if (dataDir) {
      await rm(dataDir, { recursive: true, force: true })
      await mkdir(dataDir, { recursive: true })
    }
    return await run()
  }
}

/** One measured run (see runSessionsOnce), repeated once if a dialer gets stuck preparing. */
export function runSessions(options) {
  return retryStuckPreparation(`${options.mode} c=${options.concurrency}`, options.dataDir, () =>
    runSessionsOnce(options)
  )
}

/** The held-memory run (see runHeldOnce), repeated once if a dialer gets stuck preparing. */
export function runHeld(options) {
  return retryStuckPreparation(`held ${options.mode}`, options.dataDir, () => runHeldOnce(options))
}

function share(total, parts, index) {
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0)
}

const MEMORY_FIELDS = ['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers']

/**
 * Memory held by `count` sessions in flight at once, against a listener that keeps them all waiting
 * (BENCH_HOLD=1: the bootstrap's token needs an operator's approval, the baseline holds its streams after
 * the contact). Idle memory before the dialers connect and held memory once all are parked, each after a
 * full GC (median of a few readings); per session = (held − idle) ÷ sessions held, in KiB per field. Then
 * releases them (bootstrap: rejected by the operator; baseline: replied to) and checks they all end.
 */
async function runHeldOnce({ mode, count, dataDir }) {
  const listener = new Child('listener.ts', {
    BENCH_MODE: mode,
    BENCH_DATA_DIR: dataDir ?? '',
    BENCH_HOLD: '1'
  })
  const dialers = []
  try {
    const ready = await listener.waitFor('ready', 60_000)
    const target = mode === 'baseline' ? ready.addr : ready.link
    // the same two dialer processes as the sweep's concurrency ≥ 10
    const parts = 2
    for (let i = 0; i < parts; i++) dialers.push(new Child('dialer.ts'))
    await Promise.all(dialers.map((d) => d.waitFor('ready', 60_000)))
    await Promise.all(
      dialers.map((d, i) =>
        d.request(
          { type: 'prepare', mode, target, count: share(count, parts, i), timeoutMs: 180_000 },
          'prepared',
          300_000
        )
      )
    )
    const idle = await listener.request({ type: 'idle' }, 'idle', 60_000)
    const done = Promise.all(
      dialers.map((d, i) => d.request({ type: 'go', concurrency: share(count, parts, i) }, 'done', 600_000))
    )
    // a dialer failing early must not leave this waiting for the listener alone
    done.catch(() => {})
    const held = await listener.request({ type: 'hold', count, waitMs: 90_000 }, 'held', 120_000)
    const released = await listener.request({ type: 'release' }, 'released', 60_000)
    const results = await done
    const report = await listener.request({ type: 'report' }, 'report', 60_000)
    const failures = {}
    let ok = 0
    for (const d of results) {
      ok += d.latencies.length
      for (const [k, v] of Object.entries(d.failures)) failures[k] = (failures[k] ?? 0) + v
    }
    const perSessionKiB = {}
    const idleMiB = {}
    const heldMiB = {}
    for (const field of MEMORY_FIELDS) {
      perSessionKiB[field] = round(
        (held.memory[field] - idle.memory[field]) / 1024 / Math.max(1, held.held),
        2
      )
      idleMiB[field] = round(idle.memory[field] / 2 ** 20)
      heldMiB[field] = round(held.memory[field] / 2 ** 20)
    }
    // bootstrap: every session rejected by the operator; baseline: every session completes
    const expected =
      mode === 'bootstrap' ? { ok: 0, failures: { 'identity-rejected': count } } : { ok: count, failures: {} }
    return {
      mode,
      count,
      held: held.held,
      activeWhileHeld: held.active,
      idleMiB,
      heldMiB,
      perSessionKiB,
      released: released.released,
      ok,
      failures,
      releasedAsExpected:
        ok === expected.ok && JSON.stringify(failures) === JSON.stringify(expected.failures),
      activeAfter: report.active,
      listenerOutcomes: report.outcomes
    }
  } finally {
    await Promise.allSettled(dialers.map((d) => d.stop()))
    await listener.stop()
  }
}
