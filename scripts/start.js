#!/usr/bin/env node
/**
 * `npm start`: the desktop console where the Electron binary is installed; otherwise the same console in
 * a browser, served by `taleus serve` from ~/.taleus at the same address every time (`taleus console`
 * opens it; the address with its secret is printed only to a terminal).
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

/** Path of the Electron binary, without triggering electron's download-on-require. */
function electronBinary() {
  let dir
  try {
    dir = dirname(require.resolve('electron/package.json'))
  } catch {
    return undefined
  }
  const pathFile = join(dir, 'path.txt')
  if (!existsSync(pathFile)) return undefined
  const rel = readFileSync(pathFile, 'utf8').trim()
  const base = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? join(dir, 'dist')
  const binary = join(base, rel)
  return existsSync(binary) ? binary : undefined
}

/** Runs a command to completion with inherited output; exits on failure. */
function run(cmd, args) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

/** Runs a long-lived child, forwarding Ctrl-C/TERM so it stops cleanly, and exits with its code. */
function supervise(cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: 'inherit' })
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => process.exit(code ?? (signal == null ? 0 : 1)))
}

const bin = (name) => join(root, 'node_modules', '.bin', name)

/** Electron ≥ 45 downloads its binary on first use, not at install: try that once, bounded, before falling back. */
function fetchElectronBinary() {
  let installer
  try {
    installer = join(dirname(require.resolve('electron/package.json')), 'install.js')
  } catch {
    return undefined
  }
  if (process.env.TALEUS_NO_ELECTRON_DOWNLOAD === '1' || !existsSync(installer)) return undefined
  console.log('taleus: fetching the Electron binary (first start only)…')
  const result = spawnSync(process.execPath, [installer], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'pipe'],
    encoding: 'utf8',
    timeout: 180_000
  })
  if (result.status === 0) return electronBinary()
  const why =
    String(result.stderr ?? '')
      .split('\n')
      .find((line) => line.trim() !== '') ?? 'download failed'
  console.log(`taleus: could not fetch the Electron binary (${why.trim()}).`)
  return undefined
}

if ((electronBinary() ?? fetchElectronBinary()) != null) {
  supervise(bin('electron-vite'), ['preview'])
} else {
  const dataDir = process.env.TALEUS_DATA_DIR ?? join(homedir(), '.taleus')
  console.log(
    `taleus: no Electron binary available here; starting the browser console instead (data in ${dataDir}).`
  )
  if (!existsSync(join(root, 'out/lib/cli.js')) || !existsSync(join(root, 'out/renderer/index.html'))) {
    run('npm', ['run', 'build'])
  }
  // one step, and the address with its secret never lands in a log when output is piped
  const openIt = `node ${join(root, 'bin/taleus.js')} console --data-dir ${dataDir}`
  console.log(
    process.stderr.isTTY === true
      ? `taleus: open the "console at" address it prints in your browser (or run: ${openIt})`
      : `taleus: to open the console in your browser, run: ${openIt}`
  )
  supervise(process.execPath, [
    join(root, 'bin/taleus.js'),
    'serve',
    '--data-dir',
    dataDir,
    ...process.argv.slice(2)
  ])
}
