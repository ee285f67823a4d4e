/** IPC helpers of the benchmark child processes (forked by bench/run.js). */
import { readFileSync, readdirSync } from 'node:fs'

/** Any message between run.js and a child: `type` plus fields. */
export type BenchMessage = { type: string } & Record<string, unknown>

/** Sends one message to run.js. */
export function send(message: BenchMessage): void {
  process.send?.(message)
}

/** Calls `onMessage` for each message from run.js; a handler failure is reported and ends the child. */
export function onMessages(onMessage: (message: BenchMessage) => Promise<void> | void): void {
  process.on('message', (message: BenchMessage) => {
    Promise.resolve()
      .then(() => onMessage(message))
      .catch((err: unknown) => {
        send({ type: 'error', error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) })
        process.exit(1)
      })
  })
  process.on('disconnect', () => process.exit(0))
}

/** Peak RSS sampler: sampled every few ms, so short peaks between samples may be missed. */
export class RssSampler {
  peak = 0
  #timer: ReturnType<typeof setInterval>

  constructor(intervalMs = 25) {
    this.reset()
    this.#timer = setInterval(() => this.sample(), intervalMs)
    this.#timer.unref()
  }

  sample(): number {
    const rss = process.memoryUsage.rss()
    if (rss > this.peak) this.peak = rss
    return rss
  }

  reset(): void {
    this.peak = 0
    this.sample()
  }

  stop(): void {
    clearInterval(this.#timer)
  }
}

/** Full GC when the child runs with --expose-gc, so a "before" RSS is not inflated by garbage. */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc != null) {
    gc()
    gc()
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** One memory reading of this process in bytes (fields of `process.memoryUsage()`). */
export interface MemorySnapshot {
  rss: number
  heapTotal: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

/**
 * Memory held right now, without garbage: a full GC (twice, when the child runs with --expose-gc), then
 * the median of `samples` readings `intervalMs` apart, so one reading taken mid-allocation does not count.
 */
export async function settledMemory(samples = 5, intervalMs = 100): Promise<MemorySnapshot> {
  collectGarbage()
  await sleep(intervalMs)
  const readings: MemorySnapshot[] = []
  for (let i = 0; i < samples; i++) {
    const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage()
    readings.push({ rss, heapTotal, heapUsed, external, arrayBuffers })
    await sleep(intervalMs)
  }
  const mid = (key: keyof MemorySnapshot): number => {
    const sorted = readings.map((r) => r[key]).sort((a, b) => a - b)
    return sorted[Math.floor((sorted.length - 1) / 2)]!
  }
  return {
    rss: mid('rss'),
    heapTotal: mid('heapTotal'),
    heapUsed: mid('heapUsed'),
    external: mid('external'),
    arrayBuffers: mid('arrayBuffers')
  }
}

/**
 * CPU time (ms) of this process's main thread and of all its other threads (V8's compiler and GC helpers,
 * libuv's thread pool), from /proc/self/task; undefined where there is no /proc (not Linux).
 */
export function threadCpuMs(): { main: number; others: number } | undefined {
  try {
    const tick = 1000 / 100 // USER_HZ: 100 on Linux
    let main = 0
    let others = 0
    for (const tid of readdirSync('/proc/self/task')) {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')
      const ms = (Number(fields[11]) + Number(fields[12])) * tick
      if (Number(tid) === process.pid) main += ms
      else others += ms
    }
    return { main, others }
  } catch {
    return undefined
  }
}
