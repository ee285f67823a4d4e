// One measured run: a listener child, 1–2 dialer children with pre-created fresh peers, one burst.
import { Child } from './children.js'
import { quantile, round } from './stats.js'

/**
 * Runs `count` sessions of `mode` ('baseline' | 'bootstrap') with `concurrency` in flight against a new
 * listener on `dataDir` (bootstrap only). Returns throughput, latency percentiles, failures, RSS figures.
 */
export async function runSessions({ mode, concurrency, count, dataDir }) {
  const listener = new Child(
    'listener.ts',
    { BENCH_MODE: mode, BENCH_DATA_DIR: dataDir ?? '' },
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
        d.request({ type: 'prepare', mode, target, count: share(count, parts, i) }, 'prepared', 300_000)
      )
    )
    const marked = await listener.request({ type: 'mark' }, 'marked', 60_000)
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
    return {
      mode,
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

function share(total, parts, index) {
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0)
}
