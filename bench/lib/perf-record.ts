/** `perf record` of this process for a stretch of a bench run (BENCH_PERF, BENCH_DIALER_PERF). */
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Starts recording this process (every thread, kernel included, call graphs) into DIR/perf-NAME-PID.data;
 * resolves once perf is attached. The returned function stops it and resolves once the file is written.
 * JavaScript names need the process started with --perf-basic-prof-only-functions.
 */
export async function startPerf(dir: string, name: string): Promise<() => Promise<void>> {
  // perf cannot create the folder, and a perf that exited at once would leave the stop waiting forever
  mkdirSync(dir, { recursive: true })
  const perf = spawn(
    'perf',
    [
      'record',
      '-q',
      '-F',
      '1999',
      '-g',
      '-p',
      String(process.pid),
      '-o',
      join(dir, `perf-${name}-${process.pid}.data`)
    ],
    { stdio: 'ignore' }
  )
  // perf needs a moment to attach to every thread before the stretch starts
  await sleep(300)
  const exited = new Promise((resolve) => perf.once('exit', resolve))
  return async () => {
    perf.kill('SIGINT')
    await exited
  }
}
