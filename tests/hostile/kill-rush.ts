/**
 * kill -9 of `taleus serve` during 100 concurrent bootstraps and a restart on the same folder (and, on
 * PostgreSQL, the same schema), shared by both stores: half the dialers hold A's response until after the
 * kill, so it always lands mid-flow. Checks that nothing a dialer was told of is lost unless A never
 * confirmed it (lowdb answers before its draft is on disk), nothing is doubled or left a draft, every dialer
 * success is confirmed, the dialers that hold a tally pending agree with A once they asked it (issue H),
 * and every tally's session is audited.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import type { Libp2p } from '@libp2p/interface'
import { expect } from 'vitest'
import { SessionManager, VerdictService, parseLink } from '../../main/bootstrap/index.ts'
import type { BootstrapResult } from '../../main/bootstrap/index.ts'
import type { CreatedToken, TallyView } from '../../preload/contract.ts'
import { TEST_PG } from '../helpers/stores.ts'
import { MemoryHooks } from '../integration/protocol-helpers.ts'
import { startCadreNode } from './cadre-process.ts'
import { dialerNodes, withSchema } from './helpers.ts'
import type { SecretWatch } from './helpers.ts'
import { startServe } from './serve-process.ts'

/** A `taleus serve` child on either store. */
interface Served {
  child: ChildProcess
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  peerId: string
  multiaddrs: string[]
  api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>
  output(): string
}

/** Where the killed node keeps its data: a folder, or a folder and a PostgreSQL schema. */
export interface RushTarget {
  dir: string
  /** Set on PostgreSQL: the cadre's schema on TALEUS_TEST_PG. */
  schema?: string
}

async function start(target: RushTarget): Promise<Served> {
  if (target.schema !== undefined) {
    const n = await startCadreNode(target.dir, TEST_PG as string, target.schema)
    return { ...n, output: n.output }
  }
  const s = await startServe(target.dir)
  return {
    child: s.child,
    exited: s.exited,
    peerId: s.ready.peerId,
    multiaddrs: s.ready.multiaddrs,
    api: s.api,
    output: () => `${s.stdout()}\n${s.stderr()}`
  }
}

/** Every line of a JSON Lines file parses; a torn last line (no newline) is allowed only when `tornOk`. */
export async function readJsonLines<T>(path: string, tornOk: boolean): Promise<T[]> {
  const text = await readFile(path, 'utf8').catch(() => '')
  const parts = text.split('\n')
  const last = parts.pop()
  if (!tornOk) expect(last, `${path} ends with a whole line`).toBe('')
  return parts.map((l) => JSON.parse(l) as T)
}

/** What the store holds once the node stopped: each tally's latest status, and the audited sessions. */
async function stored(target: RushTarget): Promise<{ latest: Map<string, string>; audited: Set<string> }> {
  if (target.schema !== undefined) {
    return withSchema(target.schema, async (db) => {
      const tallies = await db.query<{ tally_id: string; status: string }>(
        'SELECT tally_id, status FROM tallies'
      )
      const audit = await db.query<{ session_id: string }>('SELECT DISTINCT session_id FROM audit')
      return {
        latest: new Map(tallies.rows.map((r) => [r.tally_id, r.status])),
        audited: new Set(audit.rows.map((r) => r.session_id))
      }
    })
  }
  // after a clean stop: every line whole and parseable, the newest line per tally
  const records = await readJsonLines<TallyView>(join(target.dir, 'tallies.jsonl'), false)
  const audit = await readJsonLines<{ sessionId: string }>(join(target.dir, 'audit.jsonl'), false)
  return {
    latest: new Map(records.map((r) => [r.tallyId, r.status])),
    audited: new Set(audit.map((e) => e.sessionId))
  }
}

/** Runs the kill -9 case on `target`; `nodes` collects the dialer nodes for the caller to stop. */
export async function killMidRush(target: RushTarget, watch: SecretWatch, nodes: Libp2p[]): Promise<void> {
  const kind = target.schema === undefined ? 'lowdb' : 'postgres'
  const first = await start(target)
  watch.secret((await readFile(join(target.dir, 'api-secret'), 'utf8')).trim())
  const created = await first.api<CreatedToken>('POST', '/api/tokens', { role: 'stock', uses: 'unlimited' })
  const link = parseLink(created.link)
  watch.secret(link.token)

  const dialers = await dialerNodes(5)
  nodes.push(...dialers)
  const hooks = Array.from({ length: 100 }, (_, i) => new MemoryHooks(`B${i}`))
  const HELD = 50
  const announced = new Set<string>()
  /** tallyId → the index of the dialer (and its hooks) that was told of it. */
  const sessionOf = new Map<string, number>()
  let held = 0
  let succeeded = 0
  let release: () => void = () => {}
  const released = new Promise<void>((res) => {
    release = res
  })
  let killAt: () => void = () => {}
  const enough = new Promise<void>((res) => {
    killAt = res
  })
  const check = (): void => {
    if (held === HELD && succeeded >= 20) killAt()
  }
  hooks.forEach((h, i) => {
    h.override.validateResponse = async (response: { provisionResult?: { tally: { tallyId: string } } }) => {
      const id = response.provisionResult?.tally.tallyId
      if (id !== undefined) {
        announced.add(id)
        sessionOf.set(id, i)
      }
      if (i < HELD) {
        held++
        check()
        await released
      }
      return true
    }
  })
  const runs = hooks.map((h, i) =>
    new SessionManager(h, { stepTimeoutMs: 20_000, sessionTimeoutMs: 30_000 })
      .initiateBootstrap(link, dialers[i % dialers.length]!)
      .then((r) => {
        succeeded++
        check()
        return r
      })
  )
  const all = Promise.allSettled(runs)
  await Promise.race([enough, all])
  first.child.kill('SIGKILL')
  const { signal } = await first.exited
  expect(signal).toBe('SIGKILL')
  release()
  const outcomes = await all
  watch.text(`${kind} serve#1 output`, first.output())

  const successes = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value as BootstrapResult] : []))
  for (const o of outcomes) if (o.status === 'rejected') watch.error('dialer', o.reason)
  for (const r of successes) watch.secret(r.dbConnectionInfo.credentials)
  expect(successes.length).toBeGreaterThanOrEqual(20)
  expect(successes.length).toBeLessThan(100)

  if (target.schema === undefined) {
    // straight after the kill, before any repair: whole lines parse, at most a torn last one
    await readJsonLines(join(target.dir, 'tallies.jsonl'), true)
    await readJsonLines(join(target.dir, 'audit.jsonl'), true)
    JSON.parse(await readFile(join(target.dir, 'tokens.json'), 'utf8'))
  }

  const second = await start(target)
  watch.secret((await readFile(join(target.dir, 'api-secret'), 'utf8')).trim())
  const tallies = await second.api<TallyView[]>('GET', '/api/tallies')
  // issue H: a dialer that committed and lost A's verdict holds its tally `pending` and asks A
  const statusA = new Map(tallies.map((t) => [t.tallyId, t.status]))
  const asker = new VerdictService({ lookupVerdict: async () => undefined })
  let disagreeBefore = 0
  let disagreeAfter = 0
  let asked = 0
  // one query at a time per dialer node (an answerer takes a few verdict streams per connection)
  const byDialer = new Map<number, Array<[string, number]>>()
  for (const [id, i] of sessionOf) {
    const list = byDialer.get(i % dialers.length) ?? []
    list.push([id, i])
    byDialer.set(i % dialers.length, list)
  }
  const askAll = async (list: Array<[string, number]>): Promise<void> => {
    for (const [id, i] of list) {
      const settles = hooks[i]!.calls.filter((c) => c.startsWith('settleTally:'))
      let statusB = settles.at(-1)?.slice('settleTally:'.length) ?? 'none'
      const confirmedA = statusA.get(id) === 'confirmed'
      // the dialer before issue H abandoned what it now holds pending
      if (confirmedA !== (statusB === 'confirmed') && statusB !== 'pending') disagreeBefore++
      else if (confirmedA && statusB === 'pending') disagreeBefore++
      if (statusB === 'pending') {
        asked++
        const answer = await asker.ask(
          dialers[i % dialers.length]!,
          { peerId: second.peerId, addrs: second.multiaddrs },
          id,
          { signal: AbortSignal.timeout(20_000) }
        )
        statusB = answer === 'confirmed' ? 'confirmed' : answer === 'unsettled' ? 'pending' : 'abandoned'
      }
      if (confirmedA !== (statusB === 'confirmed')) disagreeAfter++
    }
  }
  await Promise.all([...byDialer.values()].map(askAll))
  console.info(
    `kill -9 on ${kind}, dialers vs A: ${disagreeBefore} disagree as the dialers left them (before issue H: ` +
      `pending was abandoned); ${asked} pending asked A; ${disagreeAfter} disagree after`
  )
  expect(disagreeAfter).toBe(0)
  second.child.kill('SIGTERM')
  expect((await second.exited).code).toBe(0)
  watch.text(`${kind} serve#2 output`, second.output())

  const byId = new Map(tallies.map((t) => [t.tallyId, t]))
  for (const r of successes) expect(byId.get(r.tally.tallyId)?.status, r.tally.tallyId).toBe('confirmed')
  // A tally a dialer was told of may be missing at A only if A never confirmed it: the lowdb store holds a
  // listener's draft in memory until it settles (docs/protocol.md), so a kill takes every unsettled draft with it. No dialer success
  // is among those, and the dialers that held one pending were refused and ended it abandoned (disagreeAfter
  // above). The PostgreSQL store writes its draft before answering: nothing it announced is missing.
  const lost = [...announced].filter((id) => !byId.has(id))
  const succeededIds = new Set(successes.map((r) => r.tally.tallyId))
  expect(lost.filter((id) => succeededIds.has(id))).toEqual([])
  if (target.schema !== undefined) expect(lost).toEqual([])
  console.info(
    `kill -9 on ${kind}: ${announced.size} tallies announced, ${lost.length} of them not on disk at the kill`
  )
  expect(tallies.filter((t) => t.status === 'draft')).toEqual([])
  // none double: one tally per session
  expect(new Set(tallies.map((t) => t.sessionId)).size).toBe(tallies.length)
  const { latest, audited } = await stored(target)
  expect([...latest.values()].every((s) => s === 'confirmed' || s === 'abandoned')).toBe(true)
  expect(new Set(latest.keys())).toEqual(new Set(byId.keys()))
  // every tally's session is in the audit trail
  expect(tallies.filter((t) => !audited.has(t.sessionId))).toEqual([])

  const abandoned = tallies.filter((t) => t.status === 'abandoned').length
  const confirmedNotSeen = tallies.filter(
    (t) => t.status === 'confirmed' && !successes.some((r) => r.tally.tallyId === t.tallyId)
  ).length
  console.info(
    `kill -9 on ${kind}: ${successes.length}/100 dialers succeeded before the kill, ${announced.size} tallies ` +
      `announced to B, A holds ${tallies.length} (${tallies.length - abandoned} confirmed, ${abandoned} abandoned; ` +
      `${confirmedNotSeen} confirmed by A whose dialer saw the reset first), ${lost.length} never on disk (none confirmed)`
  )
}
