// Issue J: the console service on the PostgreSQL (cadre) store against lowdb, in the same run and at the
// same concurrencies, interleaved. The listener child picks its store from TALEUS_STORE (as Electron
// does); the server comes from TALEUS_BENCH_PG or TALEUS_TEST_PG (.ci/run sets the latter).
import { randomBytes } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import pg from 'pg'
import { runSessions } from './session-run.js'
import { median, round } from './stats.js'

/** The server to measure on, or undefined (the rows then say they were skipped). */
function server() {
  return process.env.TALEUS_BENCH_PG ?? process.env.TALEUS_TEST_PG
}

/**
 * CPU ms used so far by every local `postgres` process (Linux /proc; 0 elsewhere), so the database's own
 * cost per session can be shown beside the listener's when the server runs on this machine.
 */
function postgresCpuMs() {
  let ticks = 0
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        const close = stat.lastIndexOf(')')
        if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue
        const fields = stat.slice(close + 2).split(' ')
        // utime + stime, and cutime + cstime: a backend that exited is counted in the postmaster's
        ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])
      } catch {
        // the process ended meanwhile
      }
    }
  } catch {
    return 0
  }
  return ticks * 10
}

/** Concurrency levels: a lone customer and a rush, each after `warm` customers served before the clock (as the sweep). */
function levels(quick, warm) {
  return quick
    ? [
        { concurrency: 1, count: 20, reps: 1, warm: 60 },
        { concurrency: 100, count: 200, reps: 1, warm: 60 }
      ]
    : [
        // three reps, judged on the middle one (two made the verdict the slower rep's)
        { concurrency: 1, count: 50, reps: 3, warm },
        { concurrency: 100, count: 300, reps: 3, warm }
      ]
}

/** One run with the listener on a fresh schema of `url`; the password goes in PGPASSWORD, not argv. */
async function onPostgres(url, fn) {
  const target = new URL(url)
  const schema = `bench_${randomBytes(5).toString('hex')}`
  const password = decodeURIComponent(target.password)
  target.password = ''
  target.searchParams.set('schema', schema)
  const saved = { store: process.env.TALEUS_STORE, password: process.env.PGPASSWORD }
  process.env.TALEUS_STORE = target.toString()
  if (password !== '') process.env.PGPASSWORD = password
  try {
    return await fn()
  } finally {
    restore('TALEUS_STORE', saved.store)
    restore('PGPASSWORD', saved.password)
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => client.end())
  }
}

function restore(key, value) {
  if (value === undefined) delete process.env[key]
  else process.env[key] = value
}

/**
 * Adds the rows: per concurrency, throughput (target: PostgreSQL ≥ 0.8 × lowdb), latency and listener
 * CPU per session of both stores. `withDir(tag, fn)` runs fn in a fresh data folder.
 */
export async function storeComparison({ quick, log, row, withDir, raw, warm }) {
  const url = server()
  if (url === undefined) {
    row(
      'PostgreSQL store vs lowdb',
      '≥ 0.8 × lowdb',
      'skipped: TALEUS_BENCH_PG / TALEUS_TEST_PG not set (no PostgreSQL server)',
      null,
      null
    )
    return
  }
  for (const level of levels(quick, warm)) {
    const runs = { lowdb: [], postgres: [] }
    for (let rep = 0; rep < level.reps; rep++) {
      for (const store of ['lowdb', 'postgres']) {
        log(`store ${store} c=${level.concurrency} rep ${rep + 1}/${level.reps} (${level.count} sessions)`)
        // the server's CPU from the clock on (the warm-up's customers are not counted)
        let before = 0
        const onMark = () => {
          before = postgresCpuMs()
        }
        const run = () =>
          withDir('cadre', (dataDir) => runSessions({ mode: 'bootstrap', ...level, dataDir, onMark }))
        const result = store === 'postgres' ? await onPostgres(url, run) : await run()
        result.serverCpuMsPerSession = round((postgresCpuMs() - before) / Math.max(1, result.ok), 2)
        log(
          `  ${result.throughput}/s p50 ${result.p50} ms p95 ${result.p95} ms failed ${result.failed} ` +
            `CPU/session listener ${result.listenerCpuMsPerSession} ms postgres ${result.serverCpuMsPerSession} ms`
        )
        runs[store].push(result)
        raw.push({ store, ...result })
      }
    }
    const c = level.concurrency
    const med = (store, key) => round(median(runs[store].map((r) => r[key])), 2)
    const ratio = med('postgres', 'throughput') / med('lowdb', 'throughput')
    row(
      `PostgreSQL store c=${c}: throughput`,
      '≥ 0.8 × lowdb',
      `${med('postgres', 'throughput')}/s vs ${med('lowdb', 'throughput')}/s lowdb`,
      round(ratio, 2),
      ratio >= 0.8
    )
    row(
      `PostgreSQL store c=${c}: latency p50/p95`,
      'report',
      `${med('postgres', 'p50')}/${med('postgres', 'p95')} ms vs ${med('lowdb', 'p50')}/${med('lowdb', 'p95')} ms lowdb`,
      round(med('postgres', 'p50') / med('lowdb', 'p50'), 2),
      null
    )
    row(
      `PostgreSQL store c=${c}: listener CPU/session`,
      'report',
      `${med('postgres', 'listenerCpuMsPerSession')} ms vs ${med('lowdb', 'listenerCpuMsPerSession')} ms lowdb ` +
        `+ ${med('postgres', 'serverCpuMsPerSession')} ms in postgres (local server; start-up included) ` +
        `(failed ${runs.postgres.reduce((n, r) => n + r.failed, 0)} vs ${runs.lowdb.reduce((n, r) => n + r.failed, 0)})`,
      round(med('postgres', 'listenerCpuMsPerSession') / med('lowdb', 'listenerCpuMsPerSession'), 2),
      null
    )
  }
}
