#!/usr/bin/env node
// One variant of the sweep, repeated, for profiling and A/B checks of listener CPU per session:
// node bench/profile-run.js [bootstrap|baseline|durable|fresh|reused|tallydb] [count] [concurrency] [reps]
// (fresh/reused: contacts A refuses, see session-run.js; tallydb: the bootstrap with the shared tally
// document). With BENCH_BURST_PROF=DIR the listener and each dialer write a CPU profile of the burst alone
// (summarise: node bench/profile-summary.js DIR/burst-bootstrap-*.cpuprofile, or DIR/burst-dialer-*);
// BENCH_BURST_HEAP=DIR: a sampling heap profile of all they allocate in the burst (DIR/burst-*.heapprofile).
// BENCH_PERF=DIR with BENCH_LISTENER_ARGS=--perf-basic-prof-only-functions: a `perf record` of the listener's
// burst (CPU of every thread, where the V8 profile shows wall time). BENCH_WARM=N: N customers before the
// clock (what `npm run bench` does, 1000); 0 measures a freshly started listener.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runSessions } from './lib/session-run.js'

const [variant = 'reused', countArg = '1000', concurrencyArg = '10', repsArg = '3'] = process.argv.slice(2)
const refuse = variant === 'fresh' || variant === 'reused' ? variant : undefined
const mode = variant === 'baseline' || variant === 'durable' ? 'baseline' : 'bootstrap'
// durable: the bare node plus the store's two durable appends per customer (bench/listener.ts)
const durable = variant === 'durable'
const tallydb = variant === 'tallydb'
for (let rep = 0; rep < Number(repsArg); rep++) {
  const dataDir = await mkdtemp(join(tmpdir(), 'taleus-prof-'))
  try {
    const r = await runSessions({
      mode,
      concurrency: Number(concurrencyArg),
      count: Number(countArg),
      dataDir,
      refuse,
      tallydb,
      durable
    })
    console.log(
      `${variant} c=${r.concurrency} n=${r.ok}/${r.count} failed=${r.failed} listener ${r.listenerCpuMsPerSession} ms/session ` +
        `(main thread ${r.listenerMainCpuMsPerSession}, other threads ${r.listenerOtherCpuMsPerSession}) ` +
        `dialers ${r.dialerCpuMsPerSession} ms ${r.throughput}/s` +
        (refuse ? ` ${JSON.stringify(r.refusals)}` : '') +
        ` ${JSON.stringify(r.failures)} ${JSON.stringify(r.listenerOutcomes)}`
    )
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}
