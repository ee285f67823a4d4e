/**
 * Issue H: kill -9 of A (the listener), and separately of B (the dialer), at every step of both flows, with
 * 100 concurrent bootstraps; after the victim restarts and the verdict exchange reconciles, both sides
 * agree on every tally: confirmed on both, or abandoned (or never recorded) on both.
 *
 * Both parties are `taleus serve` children run from the TypeScript sources (bench/register.js), on
 * 127.0.0.1. The victim loads tests/hostile/crash-preload.ts with a plan: it holds sessions at each step of
 * the flow (a quota per step) and SIGKILLs itself once every step holds its quota, so one kill covers
 * every step (and, for the lowdb store's listener in the stock flow, holds some drafts before they reach the
 * disk while their sessions go on). "Before" is what the old code would have left: every tally B ever had `pending` (the old
 * code abandoned those) that A holds confirmed.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import type { CreatedToken, TallyView } from '../../preload/contract.ts'
import { TEST_PG, dropSchemas, freshSchema } from '../helpers/stores.ts'
import { storeTarget } from './cadre-process.ts'
import { hostileStores, removeDir, tempDir } from './helpers.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const SESSIONS = 100

/** The steps each victim can be killed at, in flow order (names from crash-preload.ts). */
const STEPS = {
  A: {
    stock: ['draft-recorded', 'sent-ProvisioningResult', 'confirming', 'confirmed'],
    foil: ['sent-ProvisioningResult', 'draft-recorded', 'confirming', 'confirmed', 'sent-Ack-ok']
  },
  B: {
    stock: ['sent-InboundContact', 'draft-recorded', 'sent-Ack-ok', 'confirming', 'confirmed'],
    foil: ['sent-InboundContact', 'draft-recorded', 'sent-DatabaseResult', 'confirming', 'confirmed']
  }
} as const

interface Child {
  child: ChildProcess
  api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>
  stderr(): string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  const { port } = server.address() as { port: number }
  await new Promise<void>((res) => server.close(() => res()))
  return port
}

/** `taleus serve` from the sources with the crash preload (and a plan when given). */
/**
 * serve() on a port freePort() gave, and on another if that one was taken before serve listened on it
 * (a suite running beside this one, or another test file's node on an ephemeral port).
 */
async function serveOnFreePort(
  dir: string,
  plan?: { steps: readonly string[]; quota: number },
  schema?: string
): Promise<[Child, number]> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    try {
      return [await serve(dir, port, plan, schema), port]
    } catch (err) {
      if (attempt >= 3 || !String(err).includes('UnsupportedListenAddressesError')) throw err
    }
  }
}

async function serve(
  dir: string,
  port: number,
  plan?: { steps: readonly string[]; quota: number },
  schema?: string
): Promise<Child> {
  // on PostgreSQL the password goes in PGPASSWORD, never in argv
  const store = schema === undefined ? undefined : storeTarget(TEST_PG as string, schema)
  const child = spawn(
    process.execPath,
    [
      '--import',
      pathToFileURL(join(ROOT, 'bench/register.js')).href,
      '--import',
      pathToFileURL(join(ROOT, 'tests/hostile/crash-preload.ts')).href,
      join(ROOT, 'main/cli/index.ts'),
      'serve',
      '--data-dir',
      dir,
      '--listen',
      `/ip4/127.0.0.1/tcp/${port}`,
      '--no-mdns',
      '--max-sessions',
      '1000',
      ...(store === undefined ? [] : ['--store', store.url])
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        TALEUS_CRASH_PLAN: plan === undefined ? '' : JSON.stringify(plan),
        ...(store === undefined ? {} : { PGPASSWORD: store.password })
      }
    }
  )
  let out = ''
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => res({ code, signal }))
  )
  const api = await new Promise<string>((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8')
      const line = out.split('\n').find((l) => l.includes('"event":"ready"'))
      if (line !== undefined) res((JSON.parse(line) as { api: string }).api)
    })
    void exited.then(({ code, signal }) =>
      rej(new Error(`serve exited early (${code ?? signal}): ${err.slice(-800)}`))
    )
  })
  const secret = (await readFile(join(dir, 'api-secret'), 'utf8')).trim()
  return {
    child,
    exited,
    stderr: () => err,
    async api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      const res = await fetch(`${api}${path}`, {
        method,
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      if (!res.ok) throw new Error(`API ${method} ${path}: ${res.status}`)
      return (await res.json()) as T
    }
  }
}

const tallies = (c: Child): Promise<TallyView[]> => c.api<TallyView[]>('GET', '/api/tallies')

/** Tally ids that ever had a `pending` line in B's journal (the old code abandoned those). */
async function everPending(dir: string): Promise<Set<string>> {
  const text = await readFile(join(dir, 'tallies.jsonl'), 'utf8').catch(() => '')
  const ids = new Set<string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const r = JSON.parse(line) as { tallyId: string; status: string }
    if (r.status === 'pending') ids.add(r.tallyId)
  }
  return ids
}

/** `what` may be a function: its words (what is still in the way) are read when the guard ends the wait. */
async function until<T>(
  what: string | (() => string),
  guardMs: number,
  fn: () => Promise<T | undefined>
): Promise<T> {
  const end = Date.now() + guardMs
  for (;;) {
    const value = await fn()
    if (value !== undefined) return value
    if (Date.now() > end)
      throw new Error(
        `guard: ${typeof what === 'string' ? what : what()} did not happen within ${guardMs} ms`
      )
    await new Promise((res) => setTimeout(res, 250))
  }
}

const summary: string[] = []
const children: Child[] = []
const dirs: string[] = []
const schemas: string[] = []

afterAll(async () => {
  for (const c of children)
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL')
  await Promise.all(dirs.map((d) => removeDir(d)))
  if (schemas.length > 0) await dropSchemas(TEST_PG as string, schemas)
  if (summary.length > 0) console.info(`crash-verdict:\n${summary.join('\n')}`)
})

describe('kill -9 at every step of both flows, then restart and reconcile: both sides agree', () => {
  // the merchant's store decides what A recovers; B's (a customer's) is lowdb in every case
  const cases = [
    ...hostileStores().map((k) => ({ victim: 'A' as const, store: k.name })),
    { victim: 'B' as const, store: 'lowdb' as const }
  ]
  for (const { victim, store } of cases) {
    for (const flow of ['stock', 'foil'] as const) {
      it(`kill -9 of ${victim} (${victim === 'A' ? 'listener' : 'dialer'}), ${flow} flow, A on ${store}, ${SESSIONS} concurrent bootstraps`, async () => {
        // the lowdb store's listener answers before its draft is on disk: killed while it is not yet
        const steps: readonly string[] =
          victim === 'A' && flow === 'stock' && store === 'lowdb'
            ? [...STEPS.A.stock, 'draft-unwritten']
            : STEPS[victim][flow]
        // every step holds `quota` sessions at the kill; the rest run to their end
        const quota = Math.floor(SESSIONS / (steps.length + 1))
        const dirA = await tempDir(`crashA-${flow}`)
        const dirB = await tempDir(`crashB-${flow}`)
        dirs.push(dirA, dirB)
        const plan = { steps, quota }
        const schema = store === 'postgres' ? freshSchema() : undefined
        if (schema !== undefined) schemas.push(schema)
        const [[firstA, portA], [firstB, portB]] = await Promise.all([
          serveOnFreePort(dirA, victim === 'A' ? plan : undefined, schema),
          serveOnFreePort(dirB, victim === 'B' ? plan : undefined)
        ])
        let [a, b] = [firstA, firstB]
        children.push(a, b)
        const token = await a.api<CreatedToken>('POST', '/api/tokens', { role: flow, uses: 'unlimited' })
        const dead = victim === 'A' ? a : b
        const dials = Array.from({ length: SESSIONS }, () =>
          b.api<{ sessionId: string }>('POST', '/api/dial', { link: token.link }).catch(() => undefined)
        )
        await Promise.allSettled(dials)
        // the plan kills the victim once every step holds its quota; the guard only ends a stuck run
        let guardKilled = false
        const guard = setTimeout(() => {
          guardKilled = true
          dead.child.kill('SIGKILL')
        }, 90_000)
        const { signal } = await dead.exited
        clearTimeout(guard)
        expect(signal).toBe('SIGKILL')
        expect(guardKilled, `the plan's kill (stderr: ${dead.stderr().slice(-600)})`).toBe(false)
        for (const step of steps) expect(dead.stderr()).toContain(`crash-plan: ${step} ${quota}/${quota}`)

        // restart the victim on the same folder (and, for A, the same address its dialers know)
        const again = await serve(
          victim === 'A' ? dirA : dirB,
          victim === 'A' ? portA : portB,
          undefined,
          victim === 'A' ? schema : undefined
        )
        children.push(again)
        if (victim === 'A') a = again
        else b = again

        // reconcile: B settles every pending tally by asking A; A's cut sessions end
        // what still holds the reconciliation up, for the guard's message
        let stuck = ''
        const [finalA, finalB] = await until(
          () => `reconciliation (still open: ${stuck})`,
          180_000,
          async () => {
            const [ta, tb] = await Promise.all([tallies(a), tallies(b)])
            const open = (side: string, list: TallyView[]): string[] =>
              list
                .filter((t) => t.status === 'draft' || t.status === 'pending')
                .map(
                  (t) =>
                    `${side} ${t.tallyId} ${t.status} ${t.direction} session ${t.sessionId}` +
                    (t.nextCheckAt === undefined ? '' : ` next ask in ${t.nextCheckAt - Date.now()} ms`)
                )
            const busy = [...open('A', ta), ...open('B', tb)]
            stuck = `${busy.length}: ${busy.slice(0, 5).join('; ')}`
            return busy.length > 0 ? undefined : ([ta, tb] as const)
          }
        )
        const statusA = new Map(finalA.map((t) => [t.tallyId, t.status]))
        const statusB = new Map(finalB.map((t) => [t.tallyId, t.status]))
        const ids = new Set([...statusA.keys(), ...statusB.keys()])
        let confirmed = 0
        let abandoned = 0
        const disagree: string[] = []
        for (const id of ids) {
          const sa = statusA.get(id) ?? 'absent'
          const sb = statusB.get(id) ?? 'absent'
          if (sa === 'confirmed' && sb === 'confirmed') confirmed++
          else if (sa !== 'confirmed' && sb !== 'confirmed') abandoned++
          else disagree.push(`${id}: A ${sa}, B ${sb}`)
        }
        const pendingOnB = await everPending(dirB)
        const before = [...pendingOnB].filter((id) => statusA.get(id) === 'confirmed').length
        const settledByVerdict = pendingOnB.size
        summary.push(
          `  kill -9 of ${victim}, ${flow}, A on ${store}: ${ids.size} tallies, ${confirmed} confirmed on both, ${abandoned} abandoned on both ` +
            `(or absent on one side), ${disagree.length} disagree; ${settledByVerdict} were pending on B and settled by a ` +
            `verdict query; the old code would have left ${before} confirmed by A and abandoned by B`
        )
        expect(disagree).toEqual([])
        expect(confirmed + abandoned).toBe(ids.size)
        await Promise.all([
          (async () => {
            a.child.kill('SIGTERM')
            await a.exited
          })(),
          (async () => {
            b.child.kill('SIGTERM')
            await b.exited
          })()
        ])
      }, 400_000)
    }
  }
})
