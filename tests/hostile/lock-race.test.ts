/**
 * Stale-lock takeover race (issue E.5): a crash leaves `.lock` naming a dead pid, then several processes
 * open the folder at the same moment. Each worker is its own Node process holding what it acquired until
 * every worker of the trial has answered, so two "owner" answers in one trial are two owners at once.
 * Lowdb only by nature: the data folder's lock; PostgreSQL nodes share a schema on purpose (cadre.test.ts).
 */
import { spawn } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sourceUrl, tsLoader } from '../helpers/ts-child.ts'

const TRIALS = Number(process.env.TALEUS_LOCK_TRIALS ?? 200)
const WORKERS = Number(process.env.TALEUS_LOCK_WORKERS ?? 2)

const WORKER = `
import { createInterface } from 'node:readline'
const { acquireLock } = await import(${JSON.stringify(sourceUrl('main/store/lock.ts'))})
let lock
const out = (v) => process.stdout.write(JSON.stringify(v) + '\\n')
for await (const line of createInterface({ input: process.stdin })) {
  const msg = JSON.parse(line)
  if (msg.cmd === 'acquire') {
    try { lock = await acquireLock(msg.dir); out({ owner: true }) }
    catch (e) { out({ owner: false, name: e.name }) }
  } else if (msg.cmd === 'release') {
    await lock?.release(); lock = undefined; out({ released: true })
  }
}
`

interface Worker {
  child: ChildProcessWithoutNullStreams
  ask(msg: object): Promise<{ owner?: boolean; name?: string }>
}

function startWorker(execArgv: string[]): Worker {
  const child = spawn(process.execPath, [...execArgv, '--input-type=module', '-e', WORKER], {
    stdio: ['pipe', 'pipe', 'pipe']
  })
  const waiting: Array<(v: { owner?: boolean; name?: string }) => void> = []
  createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(JSON.parse(line)))
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d))
  return {
    child,
    ask: async (msg) =>
      new Promise((resolve) => {
        waiting.push(resolve)
        child.stdin.write(JSON.stringify(msg) + '\n')
      })
  }
}

describe('stale lock takeover', () => {
  let loaderDir: string
  let workers: Worker[] = []
  let deadPid: number

  beforeAll(async () => {
    const loader = await tsLoader()
    loaderDir = loader.dir
    workers = Array.from({ length: WORKERS }, () => startWorker(loader.execArgv))
    const child = spawn(process.execPath, ['-e', ''])
    deadPid = await new Promise<number>((res) => child.on('exit', () => res(child.pid ?? 0)))
  })

  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL')
    await rm(loaderDir, { recursive: true, force: true })
  })

  it(`${TRIALS} trials of ${WORKERS} processes opening a folder with a dead owner's lock: never two owners`, async () => {
    // per round: [stale lock, released lock]
    const twoOwners = [0, 0]
    let noOwner = 0
    for (let trial = 0; trial < TRIALS; trial++) {
      const dir = await mkdtemp(join(tmpdir(), 'taleus-lock-'))
      try {
        await writeFile(join(dir, '.lock'), `${deadPid}\n`)
        // round 1: the dead owner's lock; round 2: the lock the winner of round 1 released
        for (let round = 0; round < 2; round++) {
          const answers = await Promise.all(workers.map(async (w) => w.ask({ cmd: 'acquire', dir })))
          const owners = answers.filter((a) => a.owner === true).length
          if (owners > 1) twoOwners[round]!++
          if (owners === 0) noOwner++
          for (const a of answers) if (a.owner !== true) expect(a.name).toBe('StoreLockedError')
          await Promise.all(workers.map(async (w) => w.ask({ cmd: 'release' })))
        }
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    }
    process.stderr.write(
      `lock race: two owners in ${twoOwners[0]} of ${TRIALS} stale-lock rounds, ` +
        `${twoOwners[1]} of ${TRIALS} released-lock rounds; ${noOwner} rounds without an owner\n`
    )
    expect(twoOwners).toEqual([0, 0])
    expect(noOwner).toBe(0)
  }, 600_000)
})
