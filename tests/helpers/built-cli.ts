/** The built `taleus` CLI for tests that run it as a child process. */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

/** The project root. */
export const ROOT = resolve(import.meta.dirname, '../..')
/** The `taleus` command. */
export const BIN = join(ROOT, 'bin/taleus.js')
const BUILT = join(ROOT, 'out/lib/cli.js')

/** Newest modification time of the sources the library build reads. */
function newestSource(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path))
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs)
  }
  return newest
}

/** Builds out/lib when missing or older than its sources (`npm test` builds first anyway). */
export function ensureBuilt(): void {
  const built = existsSync(BUILT) ? statSync(BUILT).mtimeMs : 0
  const sources = Math.max(
    newestSource(join(ROOT, 'main')),
    newestSource(join(ROOT, 'preload')),
    statSync(join(ROOT, 'vite.lib.config.ts')).mtimeMs
  )
  if (built >= sources) return
  const vite = join(ROOT, 'node_modules/vite/bin/vite.js')
  execFileSync(process.execPath, [vite, 'build', '--config', 'vite.lib.config.ts', '--logLevel', 'error'], {
    cwd: ROOT,
    stdio: 'pipe'
  })
}
