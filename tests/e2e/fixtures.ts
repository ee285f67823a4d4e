/**
 * Fixtures of the console's UI tests. `taleus` gives each test its own data folder, a real node and the
 * console page on it: in Chromium a `taleus serve` child with the browser console, in Electron the app.
 * Helpers run real `taleus serve` and `taleus dial` children. No output here ever carries a link or secret.
 */
import '../../main/polyfill.ts'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { test as base, expect, type ElectronApplication, type Page } from '@playwright/test'
import jsQR from 'jsqr'
import { PNG } from 'pngjs'

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../..')
const CLI = join(ROOT, 'bin', 'taleus.js')

/** Debian's Chromium; never a downloaded browser. */
export const CHROMIUM = '/usr/bin/chromium'
/** Flags for Chromium in a container without GPU or network (../shared/notes/stack.md). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]
/** Size of every console window and screenshot. */
export const VIEWPORT = { width: 1280, height: 800 }

/** The Electron binary, or why there is none (checked without require('electron'): that downloads). */
export function findElectron(): { path: string } | { missing: string } {
  const override = process.env['ELECTRON_OVERRIDE_DIST_PATH']
  const pkg = join(ROOT, 'node_modules', 'electron')
  if (!existsSync(join(pkg, 'package.json'))) return { missing: 'the electron package is not installed' }
  const pathTxt = join(pkg, 'path.txt')
  if (override === undefined && !existsSync(pathTxt)) {
    return { missing: 'node_modules/electron/dist was never downloaded' }
  }
  const relative = existsSync(pathTxt) ? readFileSync(pathTxt, 'utf8').trim() : 'electron'
  const binary = join(override ?? join(pkg, 'dist'), relative)
  return existsSync(binary) ? { path: binary } : { missing: `${binary} does not exist` }
}

/** A running `taleus serve` child with its own data folder. */
export interface ServeNode {
  dataDir: string
  /** `http://127.0.0.1:PORT` */
  api: string
  /** The browser console address, with the secret in the fragment. */
  consoleUrl: string
  peerId: string
  /** Call the local API with the node's bearer secret; rejects on a non-2xx answer. */
  call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>
  /** SIGTERM, wait for the exit, remove the data folder. */
  stop(): Promise<void>
  /** SIGTERM and wait for the exit, keeping the data folder (to start the node again on it). */
  halt(): Promise<void>
}

/**
 * Start `taleus serve --no-mdns` on loopback in a fresh temp folder (or `dataDir`, to restart a halted
 * node). `bench` sets TALEUS_BENCH=1.
 */
export async function startServe(options: { bench?: boolean; dataDir?: string } = {}): Promise<ServeNode> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'taleus-e2e-')))
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--data-dir', dataDir, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'],
    {
      env: { ...process.env, TALEUS_BENCH: options.bench === true ? '1' : '0' },
      stdio: ['ignore', 'pipe', 'pipe']
    }
  )
  // stderr carries the console URL with its secret: read, never echo.
  child.stderr.resume()
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)))
  const halt = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
  }
  const stop = async (): Promise<void> => {
    await halt()
    await rm(dataDir, { recursive: true, force: true })
  }
  try {
    const ready = await new Promise<{ api: string; peerId: string }>((res, rej) => {
      const lines = createInterface({ input: child.stdout })
      lines.on('line', (line) => {
        try {
          const msg = JSON.parse(line) as { event?: string; api?: string; peerId?: string }
          if (msg.event === 'ready' && msg.api !== undefined && msg.peerId !== undefined) {
            res({ api: msg.api, peerId: msg.peerId })
          }
        } catch {
          // not the ready line
        }
      })
      void exited.then((code) => rej(new Error(`taleus serve exited with code ${code} before it was ready`)))
    })
    const secret = (await readFile(join(dataDir, 'api-secret'), 'utf8')).trim()
    const call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
      const res = await fetch(ready.api + path, {
        method,
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}`)
      return (await res.json()) as T
    }
    return {
      dataDir,
      api: ready.api,
      consoleUrl: `${ready.api}/#secret=${secret}`,
      peerId: ready.peerId,
      call,
      stop,
      halt
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/** What a `taleus dial LINK --json` child ended with. */
export interface DialRun {
  code: number | null
  /** The parsed JSON result line (success only). */
  result?: { ok: true; tallyId: string; role: string; remotePeerId: string; sessionId: string }
  /** The reason code of a refusal or failure, from the one error line. */
  reason?: string
}

/** Run a `taleus` command to its end: its exit code and output (callers never print it). */
export async function runCli(
  args: string[],
  signal?: AbortSignal
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // an abort kills it outright, as a customer's phone that goes away
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(signal === undefined ? {} : { signal, killSignal: 'SIGKILL' as const })
  })
  child.on('error', () => {})
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)))
  return { code, stdout, stderr }
}

/** Run `taleus dial` as a separate dialer node (its own temp folder) and wait for it to end. */
export async function cliDial(
  link: string,
  identity?: Record<string, string>,
  signal?: AbortSignal
): Promise<DialRun> {
  const args = ['dial', link, '--json']
  if (identity !== undefined) {
    args.push(
      '--identity',
      Object.entries(identity)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
    )
  }
  const { code, stdout, stderr } = await runCli(args, signal)
  const run: DialRun = { code }
  const last = stdout.trim().split('\n').at(-1)
  if (code === 0 && last !== undefined && last !== '') run.result = JSON.parse(last) as DialRun['result']
  const failure = /^taleus: (?:rejected|failed|timed out): ([a-z-]+) /m.exec(stderr)
  if (failure?.[1] !== undefined) run.reason = failure[1]
  return run
}

/** Decode the QR code in a PNG (a screenshot), or undefined. */
export function decodeQrPng(png: Buffer): string | undefined {
  const image = PNG.sync.read(png)
  return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data
}

/** Options of createTokenInUi. */
export interface TokenForm {
  label: string
  uses?: 'one' | 'unlimited' | number
  requirements?: string
  approval?: 'auto' | 'operator'
}

/** Create a token through the Tokens screen; returns its link from the QR panel. */
export async function createTokenInUi(page: Page, form: TokenForm): Promise<string> {
  await page.getByTestId('nav-tokens').click()
  await page.getByTestId('token-label').fill(form.label)
  const uses = form.uses ?? 'one'
  if (uses === 'one') await page.getByTestId('token-uses-one').check()
  else if (uses === 'unlimited') await page.getByTestId('token-uses-unlimited').check()
  else {
    await page.getByTestId('token-uses-n').check()
    await page.getByTestId('token-uses-count').fill(String(uses))
  }
  await page.getByTestId('token-requirements').fill(form.requirements ?? '')
  await page
    .getByTestId(form.approval === 'operator' ? 'token-approval-operator' : 'token-approval-auto')
    .check()
  await page.getByTestId('token-create').click()
  await expect(page.getByTestId('qr-panel').filter({ hasText: form.label })).toBeVisible()
  await expect(page.getByTestId('token-link')).toHaveValue(/^taleus:/)
  return page.getByTestId('token-link').inputValue()
}

/** The console under test and what a test may do to its node besides the UI. */
export interface ConsoleHandle {
  page: Page
  shell: 'web' | 'electron'
  /** Push `count` synthetic sessions through the node's live table and event stream (TALEUS_BENCH). */
  injectSessions(count: number): Promise<void>
  /** The `taleus serve` node behind the page (browser console only). */
  node?: ServeNode
}

/** The UI tests' `test`: adds the `taleus` fixture (one node and one console per test). */
export const test = base.extend<{ taleus: ConsoleHandle }>({
  taleus: async ({ playwright }, use, testInfo) => {
    const pageErrors: string[] = []
    const watch = (page: Page): void => {
      page.on('pageerror', (err) => pageErrors.push(`${err.name}: ${err.message}`))
    }
    if (testInfo.project.name === 'electron') {
      const electron = findElectron()
      if (!('path' in electron)) throw new Error(`no Electron binary: ${electron.missing}`)
      const home = await mkdtemp(join(tmpdir(), 'taleus-e2e-electron-'))
      let app: ElectronApplication | undefined
      try {
        app = await playwright._electron.launch({
          executablePath: electron.path,
          args: ['--no-sandbox', ROOT],
          // userData = $XDG_CONFIG_HOME/taleus: a data folder of this test's own.
          env: { ...process.env, XDG_CONFIG_HOME: home, TALEUS_BENCH: '1' }
        })
        const page = await app.firstWindow()
        await page.setViewportSize(VIEWPORT)
        watch(page)
        await expect(page.getByTestId('stream-status')).toHaveAttribute('data-status', 'ipc')
        const electronApp = app
        await use({
          page,
          shell: 'electron',
          injectSessions: async (count) => {
            await electronApp.evaluate(async (_electron, n) => {
              const service = (
                globalThis as {
                  __taleusBench?: { injectSyntheticSessions(i: { count: number }): Promise<unknown> }
                }
              ).__taleusBench
              if (service === undefined) throw new Error('the app was not started with TALEUS_BENCH=1')
              await service.injectSyntheticSessions({ count: n })
            }, count)
          }
        })
      } finally {
        await app?.close().catch(() => {})
        await rm(home, { recursive: true, force: true })
      }
    } else {
      const node = await startServe({ bench: true })
      const browser = await playwright.chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
      try {
        const context = await browser.newContext({
          viewport: VIEWPORT,
          colorScheme: 'light',
          acceptDownloads: true
        })
        const page = await context.newPage()
        watch(page)
        await page.goto(node.consoleUrl)
        await expect(page.getByTestId('stream-status')).toHaveAttribute('data-status', 'open')
        await use({
          page,
          shell: 'web',
          node,
          injectSessions: async (count) => {
            await node.call('POST', '/api/bench/sessions', { count })
          }
        })
      } finally {
        await browser.close()
        await node.stop()
      }
    }
    // An uncaught error in the renderer fails the test even when the screen looked right.
    expect(pageErrors).toEqual([])
  }
})

export { expect }
