/** Runs `node bin/taleus.js serve` as a child process for the hostile suite, capturing all its output. */
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'

/** The project root. */
export const ROOT = resolve(import.meta.dirname, '../..')
const BIN = join(ROOT, 'bin/taleus.js')
const BUILT = join(ROOT, 'out/lib/cli.js')

function newestSource(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path))
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs)
  }
  return newest
}

/** Builds out/lib when missing or older than main/ and preload/ (`npm test` builds first anyway). */
export function ensureBuilt(): void {
  const built = existsSync(BUILT) ? statSync(BUILT).mtimeMs : 0
  const sources = Math.max(newestSource(join(ROOT, 'main')), newestSource(join(ROOT, 'preload')))
  if (built < sources) {
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'node_modules/vite/bin/vite.js'),
        'build',
        '--config',
        'vite.lib.config.ts',
        '--logLevel',
        'error'
      ],
      { cwd: ROOT, stdio: 'pipe' }
    )
  }
}

/** The `ready` line of `taleus serve`. */
export interface Ready {
  event: 'ready'
  peerId: string
  multiaddrs: string[]
  api: string
}

/** A running `taleus serve` child. */
export interface ServeChild {
  child: ChildProcess
  ready: Ready
  /** Everything it wrote so far. */
  stdout(): string
  stderr(): string
  /** Calls the local API with the bearer secret from the data folder. */
  api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>
  /** Resolves with the exit code / signal once the child exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `taleus serve --data-dir dir` on 127.0.0.1 without mDNS and waits for its ready line. */
export async function startServe(dir: string): Promise<ServeChild> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }
  )
  let out = ''
  let err = ''
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8')
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => res({ code, signal }))
  )
  const ready = await new Promise<Ready>((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8')
      const line = out.split('\n').find((l) => l.includes('"event":"ready"'))
      if (line !== undefined) res(JSON.parse(line) as Ready)
    })
    void exited.then(({ code, signal }) =>
      rej(new Error(`serve exited early (${code ?? signal}): ${err.slice(0, 500)}`))
    )
  })
  const secret = (await readFile(join(dir, 'api-secret'), 'utf8')).trim()
  return {
    child,
    ready,
    stdout: () => out,
    stderr: () => err,
    exited,
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
