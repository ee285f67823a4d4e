// Cold start: process spawn to the `ready` line of `node bin/taleus.js serve` on a fresh data folder.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const ROOT = join(import.meta.dirname, '..', '..')

/** Milliseconds from spawn to the ready line, for one start (the process is then stopped with SIGTERM). */
export async function coldStartOnce() {
  const dataDir = await mkdtemp(join(tmpdir(), 'taleus-bench-cold-'))
  const start = performance.now()
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/taleus.js'),
      'serve',
      '--data-dir',
      dataDir,
      '--no-mdns',
      '--listen',
      '/ip4/127.0.0.1/tcp/0'
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  const exited = new Promise((resolve) => child.on('exit', resolve))
  try {
    return await new Promise((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error('no ready line within 30 s')), 30_000)
      child.stdout.on('data', (chunk) => {
        out += chunk
        if (out.includes('"event":"ready"')) {
          clearTimeout(timer)
          resolve(performance.now() - start)
        }
      })
      child.stderr.resume()
      child.on('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`taleus serve exited (${code}) before ready`))
      })
    })
  } finally {
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
    await rm(dataDir, { recursive: true, force: true })
  }
}
