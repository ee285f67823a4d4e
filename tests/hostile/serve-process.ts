/** Runs `node bin/taleus.js serve` as a child process for the hostile suite, capturing all its output. */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN, ROOT, ensureBuilt } from '../helpers/built-cli.ts'

export { ROOT, ensureBuilt }

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
