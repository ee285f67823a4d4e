/**
 * Handing the console's address to a browser without its secret in any process's arguments: every local
 * user sees every command line (`ps`) for as long as the browser runs. The browser is given a page
 * instead, in a folder only this user can read, that sends it on to the address; the page is removed
 * once the browser has had time to read it.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** How long the page stays by default: a browser starting cold on a slow machine reads it within this. */
export const PAGE_LIFETIME_MS = 60_000

/** A page written for the browser. */
export interface ConsolePage {
  /** Its file:// URL: what the browser is given. */
  url: string
  /** The private folder (0700) holding it (0600). */
  dir: string
  /** Remove the page and its folder now. */
  remove(): Promise<void>
}

/** The page: it replaces itself with `address` (no history entry of its own, nothing cached, no referrer). */
export function pageHtml(address: string): string {
  // inside <script>: a `<` in the text could close the element, so it goes as \u003c
  const target = JSON.stringify(address).replace(/</g, '\\u003c')
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta http-equiv="Cache-Control" content="no-store">',
    '<meta name="referrer" content="no-referrer">',
    '<title>Taleus console</title>',
    `<script>location.replace(${target})</script>`,
    '</head><body><p>Opening the Taleus console…</p></body></html>',
    ''
  ].join('\n')
}

/** Write the page that leads to `address` in a fresh private folder. */
export async function writeConsolePage(address: string): Promise<ConsolePage> {
  // mkdtemp makes the folder 0700; the page is 0600 and created, never an existing file followed
  const dir = await mkdtemp(join(tmpdir(), 'taleus-console-'))
  const path = join(dir, 'open.html')
  await writeFile(path, pageHtml(address), { mode: 0o600, flag: 'wx' })
  return {
    url: pathToFileURL(path).href,
    dir,
    remove: () => rm(dir, { recursive: true, force: true })
  }
}

/** Run by a detached node: the command has long exited when the time comes. */
const REMOVER =
  "setTimeout(() => require('node:fs').rmSync(process.argv[1], { recursive: true, force: true }), Number(process.argv[2]))"

/** Remove `page` after `ms`, by a process of its own that outlives this one (its arguments hold no secret). */
export function removeLater(page: ConsolePage, ms: number): void {
  // stdio ignored: a pipe on this command's output must not wait for the remover
  const child = spawn(process.execPath, ['-e', REMOVER, page.dir, String(ms)], {
    detached: true,
    stdio: 'ignore',
    windowsHide: true
  })
  child.once('error', () => {
    // no remover: the folder is private, and the system's temp cleaning takes it in the end
  })
  child.unref()
}
