/**
 * `taleus console --data-dir D [--print] [--rotate]`: open the running node's browser console in one step
 * (its address carries the secret in the URL fragment, so it is opened through a private page, never
 * given in a command line, or printed only to a person's terminal, never to a pipe or a log), or rotate
 * the secret (open tabs then sign in again).
 */
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { API_INFO_FILE, type ApiInfo } from './api-client.ts'
import { CliError } from './cli-error.ts'
import { PAGE_LIFETIME_MS, removeLater, writeConsolePage, type ConsolePage } from './console-page.ts'
import { readSecret, rotateSecret } from './console-secret.ts'

/** Options of `taleus console`. */
export interface ConsoleOptions {
  dataDir: string
  /** Print the address (with its secret) instead of opening it: only on a terminal. */
  print?: boolean
  /** Replace the secret; a running node follows within a second. */
  rotate?: boolean
  /** Is stdout a person's terminal (tests pass it). Default process.stdout.isTTY. */
  isTTY?: boolean
  /** Opens the page leading to the console, given its file:// URL (tests pass one). Default: $BROWSER, else the platform's opener. */
  open?: (url: string) => Promise<void>
  /** How long the page stays once the browser was started. Default: $TALEUS_CONSOLE_PAGE_MS, else PAGE_LIFETIME_MS. */
  pageLifetimeMs?: number
}

/** What `taleus console` did. */
export interface ConsoleResult {
  /** `opened`, `printed` or `rotated`. */
  action: 'opened' | 'printed' | 'rotated'
  /** The address without its secret. */
  url?: string
}

/** Run `taleus console`; the secret is written to stdout only on a terminal. */
export async function consoleCommand(opts: ConsoleOptions): Promise<ConsoleResult> {
  const dataDir = resolve(opts.dataDir)
  if (opts.rotate === true) {
    await rotateSecret(dataDir)
    process.stderr.write(
      'taleus: the console secret was rotated; open tabs must sign in again (taleus console --data-dir ' +
        `${dataDir})\n`
    )
    return { action: 'rotated' }
  }
  const info = await runningInfo(dataDir)
  const secret = await readSecret(dataDir)
  if (info === undefined || secret === undefined)
    throw new CliError(
      `no taleus node is running for ${dataDir} (start one with: npm start, or taleus serve --data-dir ${dataDir})`
    )
  const address = `${info.url}/#secret=${secret}`
  const isTTY = opts.isTTY ?? process.stdout.isTTY === true
  if (opts.print === true) {
    if (!isTTY)
      throw new CliError(
        'the console address holds its secret: it is printed only to a terminal (run this in one, or ' +
          'without --print to open the console)'
      )
    process.stdout.write(`${address}\n`)
    return { action: 'printed', url: info.url }
  }
  // the browser's command line is public (ps): it gets a private page that holds the address instead
  let page: ConsolePage | undefined
  try {
    page = await writeConsolePage(address)
    await (opts.open ?? openUrl)(page.url)
    removeLater(page, opts.pageLifetimeMs ?? pageLifetime())
    process.stderr.write(`taleus: opened the console (${info.url}) in your browser\n`)
    return { action: 'opened', url: info.url }
  } catch {
    await page?.remove().catch(() => {})
    if (isTTY) {
      process.stdout.write(`${address}\n`)
      return { action: 'printed', url: info.url }
    }
    throw new CliError(
      `could not open a browser; run "taleus console --print --data-dir ${dataDir}" in a terminal for the address`
    )
  }
}

/** $TALEUS_CONSOLE_PAGE_MS when it is a sane number of ms (a browser slower to start), else the default. */
function pageLifetime(): number {
  const ms = Number(process.env.TALEUS_CONSOLE_PAGE_MS)
  return Number.isInteger(ms) && ms >= 100 && ms <= 3_600_000 ? ms : PAGE_LIFETIME_MS
}

async function runningInfo(dataDir: string): Promise<ApiInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(join(dataDir, API_INFO_FILE), 'utf8')) as Partial<ApiInfo>
    if (typeof info.url !== 'string' || !info.url.startsWith('http://127.0.0.1:')) return undefined
    return info as ApiInfo
  } catch {
    return undefined
  }
}

/** Open `url` with $BROWSER or the platform's opener; rejects when it cannot start or fails. */
function openUrl(url: string): Promise<void> {
  const browser = process.env.BROWSER
  const [cmd, args] =
    browser !== undefined && browser !== ''
      ? [browser, [url]]
      : process.platform === 'darwin'
        ? ['open', [url]]
        : process.platform === 'win32'
          ? ['cmd', ['/c', 'start', '""', url]]
          : ['xdg-open', [url]]
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: process.platform !== 'win32' })
    child.once('error', reject)
    // a browser started directly may run on: it started, which is all we need
    setTimeout(() => resolvePromise(), 3000)
    child.once('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`exit ${String(code)}`))))
    child.unref()
  })
}
