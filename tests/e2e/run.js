#!/usr/bin/env node
/**
 * The UI tests' entry (`npm run test:e2e`, the end of `npm test`): the Playwright specs in Debian's
 * Chromium against real `taleus serve` nodes, then the same specs in Electron where its binary exists.
 * `--screenshots` instead refreshes docs/screenshots. Exit code: non-zero when any run failed.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const config = join(root, 'tests', 'e2e', 'playwright.config.ts')
const cli = join(root, 'node_modules', '@playwright', 'test', 'cli.js')
const extra = process.argv.slice(2).filter((arg) => arg !== '--screenshots')

for (const built of ['out/lib/cli.js', 'out/renderer/index.html']) {
  if (!existsSync(join(root, built))) {
    console.error(`e2e: ${built} is missing; run \`npm run build\` first`)
    process.exit(1)
  }
}
if (!existsSync('/usr/bin/chromium')) installChromium()
startPostgres()

/**
 * The store-settings spec needs a PostgreSQL server: as root, start Debian's (scripts/test-postgres.sh, as
 * vitest's global set-up does); otherwise that spec says it was skipped.
 */
function startPostgres() {
  if (process.env.TALEUS_TEST_PG !== undefined || process.env.TALEUS_NO_PG === '1') return
  if (process.getuid?.() !== 0) {
    console.log('e2e: not root, so no PostgreSQL is started; set TALEUS_TEST_PG to run the store spec')
    return
  }
  const run = spawnSync('bash', [join(root, 'scripts/test-postgres.sh')], {
    encoding: 'utf8',
    timeout: 300_000
  })
  const url = run.stdout.trim().split('\n').pop()
  if (run.status === 0 && url !== undefined && url.startsWith('postgres://')) process.env.TALEUS_TEST_PG = url
  else console.log('e2e: could not start PostgreSQL; the store spec is skipped')
}

/** Debian's Chromium runs the UI specs (no browser download exists here); as root, install it on the spot. */
function installChromium() {
  const canApt = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')
  if (!canApt) {
    console.error(
      "e2e: /usr/bin/chromium is missing; install Debian's chromium (sudo apt-get install -y chromium)"
    )
    process.exit(1)
  }
  console.log("e2e: /usr/bin/chromium is missing; installing Debian's chromium (about 30 s)…")
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'chromium']
  ]) {
    const run = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env })
    if (run.status !== 0) {
      console.error(`e2e: apt-get ${args.join(' ')} failed; install chromium by hand and run again`)
      process.exit(1)
    }
  }
}

/** Run one Playwright project; returns its exit status. */
function project(name) {
  const run = spawnSync(process.execPath, [cli, 'test', '-c', config, `--project=${name}`, ...extra], {
    cwd: root,
    stdio: 'inherit'
  })
  return run.status ?? 1
}

/** The Electron binary's path, or why there is none. Never require('electron'): that starts a download. */
function electronBinary() {
  const pkg = join(root, 'node_modules', 'electron')
  if (!existsSync(join(pkg, 'package.json'))) return { missing: 'the electron package is not installed' }
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH
  const pathTxt = join(pkg, 'path.txt')
  if (override === undefined && !existsSync(pathTxt)) {
    return { missing: 'node_modules/electron/dist was never downloaded' }
  }
  const relative = existsSync(pathTxt) ? readFileSync(pathTxt, 'utf8').trim() : 'electron'
  const binary = join(override ?? join(pkg, 'dist'), relative)
  return existsSync(binary) ? { path: binary } : { missing: `${binary} does not exist` }
}

if (process.argv.includes('--screenshots')) process.exit(project('screenshots'))

let failed = project('chromium') !== 0
const electron = electronBinary()
if (electron.path === undefined) {
  console.log(`skipped: no Electron binary (${electron.missing})`)
} else {
  failed = project('electron') !== 0 || failed
}
process.exit(failed ? 1 : 0)
