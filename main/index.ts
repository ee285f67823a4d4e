/**
 * Electron main: composition only. One instance per user; the same node service as `taleus serve`
 * with its data in the app's userData folder; one hardened window served over IPC; a clean stop on quit.
 */
import './polyfill.ts'
import { join } from 'node:path'
import { app, BrowserWindow, dialog, session } from 'electron'
import { registerIpc } from './api/ipc.ts'
import { hardenApp, hardenSession } from './electron/security.ts'
import { createMainWindow, rendererTarget } from './electron/window.ts'
import { createConsoleService, type ConsoleService } from './service/index.ts'
import { benchEnabled } from './service/bench-sessions.ts'

const mainDir = import.meta.dirname
const renderer = rendererTarget(mainDir)
const preload = join(mainDir, '../preload/index.cjs')

let service: ConsoleService | undefined
let window: BrowserWindow | undefined
let stopped = false

function openWindow(api: ConsoleService): void {
  const win = createMainWindow({ preload, renderer })
  registerIpc(api, win, { rendererUrl: renderer.url })
  win.on('closed', () => {
    if (window === win) window = undefined
  })
  window = win
}

async function main(): Promise<void> {
  hardenApp(app)
  if (!app.requestSingleInstanceLock()) {
    // Two processes on one lowdb folder lose data: the first instance keeps it.
    app.quit()
    return
  }
  app.on('second-instance', () => {
    if (window == null) return
    if (window.isMinimized()) window.restore()
    window.focus()
  })

  await app.whenReady()
  hardenSession(session.defaultSession, renderer.devServerOrigin)
  // A folder of its own: Electron keeps caches and preferences in userData beside it.
  service = await createConsoleService({
    dataDir: join(app.getPath('userData'), 'node'),
    actor: 'electron',
    onWarning: (words) => console.warn(`taleus: ${words}`)
  })
  await service.start()
  // Load tests reach the service from Playwright's main-process evaluate; never outside TALEUS_BENCH=1.
  if (benchEnabled()) Object.assign(globalThis, { __taleusBench: service })
  openWindow(service)

  app.on('activate', () => {
    if (window == null && service != null && !stopped) openWindow(service)
  })
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit()
  })
  app.on('before-quit', (event) => {
    if (stopped || service == null) return
    // Hold the quit until sessions are cut and the store is flushed.
    event.preventDefault()
    stopped = true
    service
      .stop()
      .catch((err: unknown) => {
        console.error('taleus: stop failed:', err instanceof Error ? err.name : 'error')
      })
      .finally(() => {
        app.quit()
      })
  })
}

main().catch((err: unknown) => {
  const why = err instanceof Error ? `${err.name}: ${err.message}` : 'unknown error'
  console.error('taleus: could not start:', why)
  // A desktop user sees no console: say it in a window before leaving.
  if (app.isReady()) dialog.showErrorBox('Taleus could not start', why)
  app.exit(1)
})
