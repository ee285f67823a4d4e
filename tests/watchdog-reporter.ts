/**
 * A reporter that speaks up when the run stops moving: after STALL_MS with no test finished it prints the
 * test files and tests still running, with the processes under vitest and what each waits in, and after
 * GIVE_UP_MS it ends the run with exit code 1. A hang then costs CI minutes and says where it is, instead
 * of running into CI's own limit with nothing printed (the default reporter prints a file when it ends).
 */
import { execFileSync } from 'node:child_process'
import type { Reporter, TestCase, TestModule } from 'vitest/node'

const STALL_MS = Number(process.env.TALEUS_TEST_STALL_MS ?? 4 * 60_000)
const GIVE_UP_MS = Number(process.env.TALEUS_TEST_GIVE_UP_MS ?? 20 * 60_000)

/** Prints what is still running when no test has finished for a while; ends a run that hangs. */
export default class WatchdogReporter implements Reporter {
  readonly #modules = new Map<string, number>()
  readonly #tests = new Map<string, { name: string; since: number }>()
  #lastProgress = Date.now()
  #lastReport = 0
  #timer: NodeJS.Timeout | undefined

  onInit(): void {
    this.#timer = setInterval(() => this.#check(), 15_000)
    this.#timer.unref()
  }

  onTestModuleStart(module: TestModule): void {
    this.#modules.set(module.moduleId, Date.now())
    this.#lastProgress = Date.now()
  }

  onTestModuleEnd(module: TestModule): void {
    this.#modules.delete(module.moduleId)
    this.#lastProgress = Date.now()
  }

  onTestCaseReady(test: TestCase): void {
    this.#tests.set(test.id, {
      name: `${relative(test.module.moduleId)} > ${test.fullName}`,
      since: Date.now()
    })
  }

  onTestCaseResult(test: TestCase): void {
    this.#tests.delete(test.id)
    this.#lastProgress = Date.now()
  }

  onTestRunEnd(): void {
    clearInterval(this.#timer)
  }

  #check(): void {
    const now = Date.now()
    const quiet = now - this.#lastProgress
    if (quiet < STALL_MS || now - this.#lastReport < STALL_MS) return
    this.#lastReport = now
    const lines = [`watchdog: no test has finished for ${Math.round(quiet / 1000)} s; still running:`]
    for (const [id, since] of this.#modules) lines.push(`  file ${relative(id)} (for ${secs(now - since)})`)
    for (const t of this.#tests.values()) lines.push(`  test ${t.name} (for ${secs(now - t.since)})`)
    lines.push(processes())
    process.stderr.write(lines.join('\n') + '\n')
    if (quiet >= GIVE_UP_MS) {
      process.stderr.write(`watchdog: giving up after ${Math.round(quiet / 60_000)} min without progress\n`)
      process.exit(1)
    }
  }
}

function relative(id: string): string {
  const at = id.indexOf('/tests/')
  return at >= 0 ? id.slice(at + 1) : id
}

function secs(ms: number): string {
  return `${Math.round(ms / 1000)} s`
}

/** A command line with a URL's password and a link's token blanked (tests pass both in argv). */
export function redact(line: string): string {
  return line.replace(/(:\/\/[^:@\s/]+:)[^@\s]+@/g, '$1***@').replace(/([?&]t=)[^&\s]+/g, '$1***')
}

/** The process tree with state, wait channel and CPU time, so a stuck child shows what it waits in. */
function processes(): string {
  try {
    return execFileSync('ps', ['-eo', 'pid,ppid,stat,etime,time,wchan:24,args', '--forest'], {
      encoding: 'utf8',
      timeout: 5000
    })
      .split('\n')
      .map((l) => redact(l).slice(0, 220))
      .join('\n')
  } catch (e) {
    return `(ps failed: ${(e as Error).message})`
  }
}
