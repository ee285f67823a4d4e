/**
 * Runs `taleus serve --store postgres://…` children that share one PostgreSQL schema (a cadre), with the
 * server's password in PGPASSWORD rather than in argv.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN, ROOT } from '../helpers/built-cli.ts'

/** A running cadre node. */
export interface CadreNode {
  dir: string
  child: ChildProcess
  peerId: string
  multiaddrs: string[]
  /** Its node name in the cadre (DATADIR/node-name). */
  name: string
  api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  output(): string
}

/** The store URL for `schema` without its password, and the password for PGPASSWORD. */
export function storeTarget(pgUrl: string, schema: string): { url: string; password: string } {
  const url = new URL(pgUrl)
  const password = decodeURIComponent(url.password)
  url.password = ''
  url.searchParams.set('schema', schema)
  return { url: url.toString(), password }
}

/** Start `taleus serve` on `dir` with the cadre store, on 127.0.0.1 without mDNS; resolves once ready. */
export async function startCadreNode(dir: string, pgUrl: string, schema: string): Promise<CadreNode> {
  const { url, password } = storeTarget(pgUrl, schema)
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--store', url],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PGPASSWORD: password } }
  )
  let out = ''
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString('utf8')
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => res({ code, signal }))
  )
  const ready = await new Promise<{ peerId: string; multiaddrs: string[]; api: string }>((res, rej) => {
    let stdout = ''
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString('utf8')
      out += d.toString('utf8')
      const line = stdout.split('\n').find((l) => l.includes('"event":"ready"'))
      if (line !== undefined) res(JSON.parse(line) as { peerId: string; multiaddrs: string[]; api: string })
    })
    void exited.then(({ code, signal }) =>
      rej(new Error(`serve exited early (${code ?? signal}): ${out.slice(0, 500)}`))
    )
  })
  const secret = (await readFile(join(dir, 'api-secret'), 'utf8')).trim()
  const name = (await readFile(join(dir, 'node-name'), 'utf8')).trim()
  return {
    dir,
    child,
    peerId: ready.peerId,
    multiaddrs: ready.multiaddrs,
    name,
    exited,
    output: () => out,
    async api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      const res = await fetch(`${ready.api}${path}`, {
        method,
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      if (!res.ok) throw new Error(`API ${method} ${path}: ${res.status}`)
      return (await res.json()) as T
    }
  }
}

/** Poll `probe` until it returns a value (not undefined); a guard against hangs, not a timing assertion. */
export async function eventually<T>(probe: () => Promise<T | undefined>, guardMs = 60_000): Promise<T> {
  const until = Date.now() + guardMs
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error('eventually: gave up waiting')
    await new Promise((r) => setTimeout(r, 100))
  }
}
