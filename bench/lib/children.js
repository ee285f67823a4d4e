// Forked benchmark children (TypeScript run through bench/register.js) with a message-based request API.
import { execFileSync, fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const BENCH_DIR = join(import.meta.dirname, '..')
const REGISTER = pathToFileURL(join(BENCH_DIR, 'register.js')).href

/** One forked child: send() messages, waitFor() the next message of a type. */
export class Child {
  constructor(file, env = {}, execArgv = []) {
    this.name = file
    this.inbox = []
    this.waiters = []
    this.exited = false
    this.proc = fork(join(BENCH_DIR, file), [], {
      execArgv: [
        '--import',
        REGISTER,
        '--expose-gc',
        '--max-old-space-size=4096',
        ...execArgv,
        // BENCH_LISTENER_ARGS: V8/Node flags for the listener alone (experiments)
        ...(file === 'listener.ts'
          ? (process.env.BENCH_LISTENER_ARGS?.split(' ').filter(Boolean) ?? [])
          : []),
        // BENCH_DIALER_ARGS: the same for the dialers (with BENCH_DIALER_PERF)
        ...(file === 'dialer.ts' ? (process.env.BENCH_DIALER_ARGS?.split(' ').filter(Boolean) ?? []) : [])
      ],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    // BENCH_PIN=1 (profiling): the listener on CPU 0, everything else on CPU 1, so a wall-clock profile
    // of the listener is not its preemptions by the dialers
    if (process.env.BENCH_PIN === '1') {
      execFileSync('taskset', ['-p', '-c', file === 'listener.ts' ? '0' : '1', String(this.proc.pid)], {
        stdio: 'ignore'
      })
    }
    this.proc.on('message', (message) => {
      this.inbox.push(message)
      this.#deliver()
    })
    this.exitPromise = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exited = true
        this.exitCode = code ?? signal
        this.#deliver()
        resolve()
      })
    })
  }

  /**
   * Where a child that does not answer is (Linux): its main thread's state, kernel wait channel and
   * system call, and CPU seconds so far — a child stuck in a blocking call looks different from one that
   * is busy or waiting on a promise that never settles.
   */
  #where() {
    try {
      const pid = this.proc.pid
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const cpuS = (Number(fields[11]) + Number(fields[12])) / 100
      const wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8')
      const syscall = readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0]
      return ` (pid ${pid}: main thread ${fields[0]}, wchan ${wchan || '-'}, syscall ${syscall}, CPU ${cpuS} s)`
    } catch {
      return ''
    }
  }

  send(message) {
    if (!this.exited) this.proc.send(message)
  }

  /** The next message of `type`; rejects when the child reports an error, exits, or takes longer than `timeoutMs`. */
  waitFor(type, timeoutMs = 300_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error(`${this.name}: no '${type}' within ${timeoutMs} ms${this.#where()}`))
      }, timeoutMs)
      const waiter = { type, resolve, reject, timer }
      this.waiters.push(waiter)
      this.#deliver()
    })
  }

  async request(message, replyType, timeoutMs) {
    const reply = this.waitFor(replyType, timeoutMs)
    this.send(message)
    return reply
  }

  /** Asks the child to stop; kills it if it does not exit in time. */
  async stop(timeoutMs = 30_000) {
    if (this.exited) return
    this.send({ type: 'stop' })
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs)
    await this.exitPromise
    clearTimeout(timer)
  }

  #deliver() {
    for (const waiter of [...this.waiters]) {
      const error = this.inbox.findIndex((m) => m.type === 'error')
      if (error !== -1) {
        const [m] = this.inbox.splice(error, 1)
        this.#settle(waiter, () => waiter.reject(new Error(`${this.name}: ${m.error}`)))
        continue
      }
      const index = this.inbox.findIndex((m) => m.type === waiter.type)
      if (index !== -1) {
        const [m] = this.inbox.splice(index, 1)
        this.#settle(waiter, () => waiter.resolve(m))
      } else if (this.exited) {
        this.#settle(waiter, () => waiter.reject(new Error(`${this.name} exited (${this.exitCode})`)))
      }
    }
  }

  #settle(waiter, fn) {
    clearTimeout(waiter.timer)
    this.waiters = this.waiters.filter((w) => w !== waiter)
    fn()
  }
}
