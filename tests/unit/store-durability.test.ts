import { spawn } from 'node:child_process'
import { appendFile, chmod, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Direction, HookContext, SessionEvent } from '../../main/bootstrap/types.ts'
import { tokenCtx } from '../helpers/hook-context.ts'
import { openStore } from '../../main/store/index.ts'
import type { LowdbMerchantStore } from '../../main/store/index.ts'

const A = { peerId: 'peer-A', multiaddrs: () => ['/ip4/127.0.0.1/tcp/4001/p2p/peer-A'] }

function ctx(sessionId: string, direction: Direction = 'inbound'): HookContext {
  return { sessionId, direction, remotePeerId: 'peer-B', signal: new AbortController().signal }
}

function event(
  sessionId: string,
  at: number,
  state: SessionEvent['state'] = 'L_PROCESS_CONTACT',
  previousState: SessionEvent['previousState'] = null
): SessionEvent {
  return { sessionId, direction: 'inbound', state, previousState, at, peerId: 'peer-B' }
}

async function rejection(p: Promise<unknown>): Promise<Error & { kind?: string; path?: string }> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

describe('store durability', () => {
  let dir: string
  const open: LowdbMerchantStore[] = []

  async function openHere(init?: Parameters<typeof openStore>[1]): Promise<LowdbMerchantStore> {
    const store = await openStore(dir, init)
    open.push(store)
    return store
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-store-'))
  })

  afterEach(async () => {
    await Promise.all(open.splice(0).map(async (s) => s.close()))
    await chmod(dir, 0o700).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  it("a new tally reaches the disk only after its session's audit record does (crash between them loses neither)", async () => {
    // A long flush window: without the write-ahead, the event would still sit in memory.
    const store = await openHere({ auditFlushMs: 60_000 })
    const hooks = store.hooks(A)
    await hooks.logSessionEvent!('s-wa', event('s-wa', 1))
    const { tally } = await hooks.provisionDatabase('stock', 'peer-B', 'peer-A', 's-wa', ctx('s-wa'))
    // a listener's draft is held in memory: its first line is its settlement
    expect(await readFile(join(dir, 'tallies.jsonl'), 'utf8')).not.toContain(tally.tallyId)
    expect(await readFile(join(dir, 'audit.jsonl'), 'utf8')).not.toContain('"sessionId":"s-wa"')
    await hooks.settleTally!(tally.tallyId, 'confirmed', ctx('s-wa'))
    const audit = await readFile(join(dir, 'audit.jsonl'), 'utf8')
    const tallies = await readFile(join(dir, 'tallies.jsonl'), 'utf8')
    expect(tallies).toContain(tally.tallyId)
    expect(audit).toContain('"sessionId":"s-wa"')
    // so is a tally we dialled (foil: we provision), whose draft is written at once
    await hooks.logSessionEvent!('s-out', { ...event('s-out', 2), direction: 'outbound' })
    const out = await hooks.provisionDatabase('foil', 'peer-A', 'peer-B', 's-out', ctx('s-out', 'outbound'))
    expect(await readFile(join(dir, 'tallies.jsonl'), 'utf8')).toContain(out.tally.tallyId)
    expect(await readFile(join(dir, 'audit.jsonl'), 'utf8')).toContain('"sessionId":"s-out"')
  })

  it('reopen keeps tokens (and their secret text), tallies and the audit trail', async () => {
    const first = await openHere()
    const { view, token } = await first.createToken({ role: 'stock', uses: 2, label: 'door' })
    const hooks = first.hooks(A)
    const info = await hooks.validateToken(token, ctx('s1'))
    await hooks.markTokenUsed!('token-text', 's1', tokenCtx(ctx('s1'), info))
    const p = await hooks.provisionDatabase('stock', 'peer-B', 'peer-A', 's1', ctx('s1'))
    await hooks.settleTally!(p.tally.tallyId, 'confirmed', ctx('s1'))
    await hooks.logSessionEvent!('s1', event('s1', 1))
    await hooks.logSessionEvent!('s1', event('s1', 2, 'L_SEND_RESPONSE', 'L_PROCESS_CONTACT'))
    await first.close()
    expect((await stat(join(dir, 'secret'))).mode & 0o777).toBe(0o600)

    const second = await openHere()
    expect(second.getToken(view.tokenId)).toMatchObject({ label: 'door', used: 1, status: 'active' })
    expect(second.tokenSecret(view.tokenId)).toBe(token)
    expect((await second.hooks(A).validateToken(token, ctx('s2')))?.tokenId).toBe(view.tokenId)
    expect(second.listTallies()).toEqual([
      expect.objectContaining({ tallyId: p.tally.tallyId, status: 'confirmed', tokenId: view.tokenId })
    ])
    // the grant itself is never in tallies.jsonl (issue I: re-derived or sealed in the tally database)
    expect(second.getTally(p.tally.tallyId)?.dbConnectionInfo).toEqual({
      nodes: p.dbConnectionInfo.nodes,
      credentials: ''
    })
    expect(await readFile(join(dir, 'tallies.jsonl'), 'utf8')).not.toContain(p.dbConnectionInfo.credentials)
    expect(second.listAudit({ sessionId: 's1' }).map((e) => e.state)).toEqual([
      'L_SEND_RESPONSE',
      'L_PROCESS_CONTACT'
    ])
  })

  it('provisioned tally is durable once settled; a draft cut by a clean stop ends abandoned; recover() abandons written drafts of a previous run only', async () => {
    const first = await openHere()
    const hooks = first.hooks(A)
    const cut = await hooks.provisionDatabase('stock', 'peer-B', 'peer-A', 'k', ctx('k'))
    const done = await hooks.provisionDatabase('stock', 'peer-B', 'peer-A', 'd', ctx('d'))
    await hooks.settleTally!(done.tally.tallyId, 'confirmed', ctx('d'))
    // a draft we dialled is on disk as a draft (after a crash it waits for the listener's verdict)
    const dialled = await hooks.provisionDatabase('foil', 'peer-C', 'peer-A', 'o', ctx('o', 'outbound'))
    expect(first.listTallies().find((t) => t.tallyId === cut.tally.tallyId)?.status).toBe('draft')
    await first.close()

    const second = await openHere()
    const before = Object.fromEntries(second.listTallies().map((t) => [t.tallyId, t.status]))
    expect(before).toEqual({
      [cut.tally.tallyId]: 'abandoned',
      [done.tally.tallyId]: 'confirmed',
      [dialled.tally.tallyId]: 'draft'
    })
    const fresh = await second
      .hooks(A)
      .provisionDatabase('foil', 'peer-C', 'peer-A', 'f', ctx('f', 'outbound'))
    const changed: string[] = []
    second.addEventListener('tally', (e) => changed.push(`${e.detail.tallyId}:${e.detail.status}`))
    expect(await second.recover()).toEqual({ abandoned: 0, pending: 1 })
    expect(changed).toEqual([`${dialled.tally.tallyId}:pending`])
    const status = Object.fromEntries(second.listTallies().map((t) => [t.tallyId, t.status]))
    expect(status).toEqual({
      [cut.tally.tallyId]: 'abandoned',
      [done.tally.tallyId]: 'confirmed',
      [dialled.tally.tallyId]: 'pending',
      [fresh.tally.tallyId]: 'draft'
    })
    expect(await second.recover()).toEqual({ abandoned: 0, pending: 0 })
  })

  it('a crash forgets a listener draft never settled: nothing of it on disk, nothing to recover', async () => {
    const first = await openHere()
    const hooks = first.hooks(A)
    const held = await hooks.provisionDatabase('stock', 'peer-B', 'peer-A', 'h', ctx('h'))
    const done = await hooks.provisionDatabase('stock', 'peer-B', 'peer-A', 'd', ctx('d'))
    await hooks.settleTally!(done.tally.tallyId, 'confirmed', ctx('d'))
    // what a kill -9 leaves: the files as they are now (a copy, read by a second store)
    const copy = await mkdtemp(join(tmpdir(), 'taleus-store-crash-'))
    try {
      for (const name of await readdir(dir))
        if (!name.startsWith('.lock')) await writeFile(join(copy, name), await readFile(join(dir, name)))
      const after = await openStore(copy)
      try {
        expect(after.listTallies().map((t) => [t.tallyId, t.status])).toEqual([
          [done.tally.tallyId, 'confirmed']
        ])
        expect(after.verdictFor(held.tally.tallyId, 'peer-B')).toBeUndefined()
        expect(await after.recover()).toEqual({ abandoned: 0, pending: 0 })
      } finally {
        await after.close()
      }
    } finally {
      await rm(copy, { recursive: true, force: true })
    }
  })

  it('a torn last line (crash mid-write) is ignored and cut off; the rest is kept', async () => {
    const first = await openHere()
    const p = await first.hooks(A).provisionDatabase('stock', 'peer-B', 'peer-A', 't', ctx('t'))
    await first.hooks(A).logSessionEvent!('t', event('t', 5))
    await first.close()
    const talliesPath = join(dir, 'tallies.jsonl')
    const auditPath = join(dir, 'audit.jsonl')
    const goodSize = (await stat(talliesPath)).size
    await appendFile(talliesPath, '{"tallyId":"half-writ')
    await appendFile(auditPath, '{"sessionId":"t","at":9')

    const second = await openHere()
    expect(second.listTallies().map((t) => t.tallyId)).toEqual([p.tally.tallyId])
    expect(second.listAudit({}).map((e) => e.at)).toEqual([5])
    expect((await stat(talliesPath)).size).toBe(goodSize)
    // later appends start on a clean line
    await second.hooks(A).logSessionEvent!('t', event('t', 6, 'L_DONE', 'L_PROCESS_CONTACT'))
    await second.hooks(A).provisionDatabase('stock', 'peer-B', 'peer-A', 't2', ctx('t2'))
    await second.close()
    const third = await openHere()
    expect(third.listTallies()).toHaveLength(2)
    expect(third.listAudit({}).map((e) => e.at)).toEqual([6, 5])
    for (const line of (await readFile(auditPath, 'utf8')).trim().split('\n'))
      expect(() => JSON.parse(line) as unknown).not.toThrow()
  })

  it('compacts a tally journal full of superseded lines at open, keeping the latest state', async () => {
    const first = await openHere()
    const hooks = first.hooks(A)
    const ids: string[] = []
    // tallies we dialled: a draft line each, then its settlement (a listener's draft has no line of its own)
    for (let i = 0; i < 1200; i++)
      ids.push(
        (await hooks.provisionDatabase('foil', 'peer-B', 'peer-A', `c${i}`, ctx(`c${i}`, 'outbound'))).tally
          .tallyId
      )
    await Promise.all(
      ids.map(async (id, i) =>
        hooks.settleTally!(id, i % 2 === 0 ? 'confirmed' : 'abandoned', ctx(`c${i}`, 'outbound'))
      )
    )
    await first.close()
    const path = join(dir, 'tallies.jsonl')
    expect((await readFile(path, 'utf8')).trim().split('\n')).toHaveLength(2400)

    const second = await openHere()
    expect((await readFile(path, 'utf8')).trim().split('\n')).toHaveLength(1200)
    const tallies = second.listTallies()
    expect(tallies).toHaveLength(1200)
    expect(tallies.filter((t) => t.status === 'confirmed')).toHaveLength(600)
    expect(tallies.filter((t) => t.status === 'abandoned')).toHaveLength(600)
  })

  it('audit beyond the in-memory ring is reached by queryAudit from the file', async () => {
    const first = await openHere({ auditMemoryEvents: 50, auditFlushMs: 5 })
    const hooks = first.hooks(A)
    for (let i = 0; i < 300; i++)
      await hooks.logSessionEvent!(
        `q${i % 10}`,
        event(
          `q${i % 10}`,
          i,
          i < 10 ? 'L_PROCESS_CONTACT' : 'L_SEND_RESPONSE',
          i < 10 ? null : 'L_PROCESS_CONTACT'
        )
      )
    expect(first.listAudit({ limit: 5000 })).toHaveLength(50)
    const old = await first.queryAudit({ before: 100, limit: 3 })
    expect(old.map((e) => e.at)).toEqual([99, 98, 97])
    const whole = await first.queryAudit({ sessionId: 'q3', limit: 5000 })
    expect(whole).toHaveLength(30)
    expect(whole.at(-1)?.previousState).toBeNull()
    await first.close()
    const second = await openHere({ auditMemoryEvents: 50 })
    expect(second.listAudit({ limit: 5000 }).map((e) => e.at)).toEqual(
      Array.from({ length: 50 }, (_, i) => 299 - i)
    )
    expect(await second.queryAudit({ limit: 5000 })).toHaveLength(300)
  })

  it('one store per folder: a second open is refused while the first lives; a dead owner’s lock is taken over', async () => {
    const first = await openHere()
    const again = await rejection(openStore(dir))
    expect(again.name).toBe('StoreLockedError')
    await first.close()
    // a lock left by a process that no longer exists
    const child = spawn(process.execPath, ['-e', ''])
    const deadPid = await new Promise<number>((res) => child.on('exit', () => res(child.pid ?? 0)))
    await writeFile(join(dir, '.lock'), `${deadPid}\n`)
    const second = await openHere()
    // the takeover is the next lock epoch; every older one (and the old `.lock`) is then removed
    const locks = (await readdir(dir)).filter((n) => n.startsWith('.lock'))
    expect(locks).toHaveLength(1)
    const lock = join(dir, locks[0] as string)
    expect((await readFile(lock, 'utf8')).split('\n')[0]).toBe(String(process.pid))
    await second.close()
    await expect(stat(join(dir, '.lock'))).rejects.toMatchObject({ code: 'ENOENT' })
    expect((await readFile(lock, 'utf8')).trim()).toBe('released')
  })

  it('a lock held by another live process is refused', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'])
    try {
      await writeFile(join(dir, '.lock'), `${child.pid}\n`)
      const err = await rejection(openStore(dir))
      expect(err.name).toBe('StoreLockedError')
      expect(err.message).toContain(String(child.pid))
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('disk full: a tally write fails with a clear StoreWriteError, nothing half-recorded, the rest works', async () => {
    await symlink('/dev/full', join(dir, 'tallies.jsonl'))
    const store = await openHere()
    const { view, token } = await store.createToken({ role: 'stock' })
    const hooks = store.hooks(A)
    const info = await hooks.validateToken(token, ctx('full'))
    // a listener's draft is held in memory; its first write is its confirmation, and that fails
    const { tally } = await hooks.provisionDatabase('stock', 'peer-B', 'peer-A', 'full', ctx('full'))
    const err = await rejection(hooks.settleTally!(tally.tallyId, 'confirmed', ctx('full')))
    expect(err).toMatchObject({ name: 'StoreWriteError', kind: 'disk-full' })
    expect(err.message).toContain('disk full')
    expect(err.message).toContain('tallies.jsonl')
    expect(store.listTallies().map((t) => t.status)).toEqual(['draft'])
    // the session then ends it; that line fails too, and the attempt is forgotten, as a crash would have
    expect((await rejection(hooks.settleTally!(tally.tallyId, 'abandoned', ctx('full')))).name).toBe(
      'StoreWriteError'
    )
    expect(store.listTallies()).toEqual([])
    // while the journal's last write failed, a listener's draft is written before the answer: it fails there
    const next = await rejection(
      hooks.provisionDatabase('stock', 'peer-B', 'peer-A', 'full-2', ctx('full-2'))
    )
    expect(next).toMatchObject({ name: 'StoreWriteError', kind: 'disk-full' })
    // so does a draft we dialled, which is always written at once
    const out = await rejection(
      hooks.provisionDatabase('foil', 'peer-B', 'peer-A', 'full-out', ctx('full-out', 'outbound'))
    )
    expect(out).toMatchObject({ name: 'StoreWriteError', kind: 'disk-full' })
    expect(store.listTallies()).toEqual([])
    await hooks.markTokenUsed!('token-text', 'full', tokenCtx(ctx('full'), info))
    await hooks.releaseToken!('token-text', 'full', tokenCtx(ctx('full'), info))
    expect(store.getToken(view.tokenId)?.used).toBe(0)
  })

  it('disk full for the audit trail: logging never throws and events stay listed', async () => {
    await symlink('/dev/full', join(dir, 'audit.jsonl'))
    const store = await openHere({ auditFlushMs: 1 })
    const hooks = store.hooks(A)
    await hooks.logSessionEvent!('a', event('a', 1))
    await store.queryAudit({}).catch(() => [])
    expect(store.listAudit({}).map((e) => e.at)).toEqual([1])
    await store.close()
  })

  it('a read-only folder gives a clear StoreWriteError and leaves the data valid', async () => {
    const first = await openHere()
    const { view } = await first.createToken({ role: 'stock' })
    const p = await first.hooks(A).provisionDatabase('stock', 'peer-B', 'peer-A', 'ro', ctx('ro'))
    await first.close()
    const before = await readFile(join(dir, 'tallies.jsonl'), 'utf8')
    await chmod(dir, 0o555)

    let result: { name: string; kind?: string; message: string }
    if (process.getuid?.() !== 0) {
      const err = await rejection(openStore(dir))
      result = { name: err.name, kind: err.kind, message: err.message }
    } else {
      // root writes anywhere: try as an unprivileged user in a child process
      result = await openAsNobody(dir)
    }
    expect(result).toMatchObject({ name: 'StoreWriteError', kind: 'read-only' })
    expect(result.message).toContain('read-only')

    await chmod(dir, 0o700)
    expect(await readFile(join(dir, 'tallies.jsonl'), 'utf8')).toBe(before)
    const again = await openHere()
    expect(again.getToken(view.tokenId)?.status).toBe('active')
    expect(again.listTallies().map((t) => t.tallyId)).toEqual([p.tally.tallyId])
  })
})

/** Open the store as uid/gid 65534 through a tiny TypeScript loader (typescript is a dev dependency). */
async function openAsNobody(dataDir: string): Promise<{ name: string; kind?: string; message: string }> {
  const work = await mkdtemp(join(tmpdir(), 'taleus-ro-'))
  try {
    await chmod(work, 0o755)
    const tsUrl = pathToFileURL(resolve('node_modules/typescript/lib/typescript.js')).href
    await writeFile(
      join(work, 'hooks.mjs'),
      `import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
const ts = createRequire(import.meta.url)(new URL(${JSON.stringify(tsUrl)}).pathname)
export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context)
  const source = await readFile(new URL(url), 'utf8')
  const out = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true } })
  return { format: 'module', source: out.outputText, shortCircuit: true }
}
`
    )
    await writeFile(
      join(work, 'register.mjs'),
      `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(join(work, 'hooks.mjs')).href)})\n`
    )
    const storeUrl = pathToFileURL(resolve('main/store/index.ts')).href
    const script = `const { openStore } = await import(${JSON.stringify(storeUrl)})
try { const s = await openStore(${JSON.stringify(dataDir)}); await s.close(); console.log(JSON.stringify({ name: 'opened', message: '' })) }
catch (e) { console.log(JSON.stringify({ name: e.name, kind: e.kind, message: e.message })) }`
    const child = spawn(
      process.execPath,
      ['--import', pathToFileURL(join(work, 'register.mjs')).href, '--input-type=module', '-e', script],
      {
        uid: 65534,
        gid: 65534,
        cwd: work,
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    let out = ''
    let errText = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (errText += d.toString()))
    const code = await new Promise<number | null>((res) => child.on('exit', res))
    const line = out.trim().split('\n').at(-1)
    if (line === undefined || line === '') throw new Error(`child failed (${code}): ${errText}`)
    return JSON.parse(line) as { name: string; kind?: string; message: string }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
