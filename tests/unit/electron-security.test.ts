/**
 * The Electron hardening, checked in plain Node (the Electron binary is not needed): the exact
 * webPreferences the window is built with, the navigation / window-open / webview guards called with
 * fake events, the permission handlers, the CSP in security.ts and in index.html (source and built),
 * and a source scan of every main-process and preload file for dangerous Electron APIs.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import type { App, Session, WebContents } from 'electron'
import {
  CONTENT_SECURITY_POLICY,
  SECURE_WEB_PREFERENCES,
  hardenApp,
  hardenSession,
  hardenWebContents,
  secureWebPreferences
} from '../../main/electron/security.ts'
import { createMainWindow } from '../../main/electron/window.ts'
import { scanSource, scanTree } from '../helpers/electron-source-scan.ts'

// window.ts constructs a BrowserWindow: a fake records what it was given.
const built = vi.hoisted(() => ({ windows: [] as Array<{ options: unknown; url?: string }> }))
vi.mock('electron', () => ({
  BrowserWindow: class {
    readonly record: { options: unknown; url?: string }
    constructor(options: unknown) {
      this.record = { options }
      built.windows.push(this.record)
    }
    once(): void {}
    loadURL(url: string): Promise<void> {
      this.record.url = url
      return Promise.resolve()
    }
  }
}))

const root = resolve(import.meta.dirname, '../..')
const FOREIGN = ['https://evil.example/', 'http://127.0.0.1:1/', 'file:///etc/passwd', 'javascript:alert(1)']

/** The whole expected set: a new key, a missing key or a changed value fails. */
const EXPECTED_PREFERENCES = {
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  experimentalFeatures: false,
  webviewTag: false,
  navigateOnDragDrop: false,
  spellcheck: false,
  disableBlinkFeatures: 'Auxclick'
}

type Listener = (...args: unknown[]) => unknown

/** A WebContents stand-in that records its listeners and window-open handler. */
function fakeContents(): {
  contents: WebContents
  listeners: Map<string, Listener[]>
  open: () => Listener | undefined
} {
  const listeners = new Map<string, Listener[]>()
  let openHandler: Listener | undefined
  const contents = {
    on(event: string, fn: Listener) {
      listeners.set(event, [...(listeners.get(event) ?? []), fn])
      return contents
    },
    setWindowOpenHandler(fn: Listener) {
      openHandler = fn
    }
  }
  return { contents: contents as unknown as WebContents, listeners, open: () => openHandler }
}

/** Emits `event` with a fake Electron event; true when every listener prevented it (and there is one). */
function prevented(listeners: Map<string, Listener[]>, event: string, url: string): boolean {
  const fns = listeners.get(event) ?? []
  if (fns.length === 0) return false
  return fns.every((fn) => {
    const evt = { defaultPrevented: false, preventDefault: () => (evt.defaultPrevented = true) }
    fn(evt, url, false, true)
    return evt.defaultPrevented
  })
}

/** A Session stand-in that records the handlers hardenSession installs. */
function fakeSession(): { session: Session; handlers: Record<string, Listener | null> } {
  const handlers: Record<string, Listener | null> = {}
  const session = {
    webRequest: { onHeadersReceived: (fn: Listener | null) => (handlers['headers'] = fn) },
    setPermissionRequestHandler: (fn: Listener | null) => (handlers['request'] = fn),
    setPermissionCheckHandler: (fn: Listener | null) => (handlers['check'] = fn),
    setDevicePermissionHandler: (fn: Listener | null) => (handlers['device'] = fn)
  }
  return { session: session as unknown as Session, handlers }
}

/** Directive → sources of a CSP string. */
function directives(policy: string): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const part of policy.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/)
    if (name) out[name] = sources
  }
  return out
}

/** The CSP of the `<meta http-equiv="Content-Security-Policy">` tag of an HTML file, if any. */
function metaPolicy(html: string): string | undefined {
  const tag = html.match(/<meta\s[^>]*http-equiv=["']Content-Security-Policy["'][^>]*>/i)?.[0]
  return tag?.match(/content="([^"]*)"/i)?.[1]
}

const EXPECTED_CSP = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
  'object-src': ["'none'"]
}

describe('webPreferences', () => {
  it('the shared set is exactly the secure one', () => {
    expect({ ...SECURE_WEB_PREFERENCES }).toEqual(EXPECTED_PREFERENCES)
    expect(secureWebPreferences('/app/preload.cjs')).toEqual({
      preload: '/app/preload.cjs',
      ...EXPECTED_PREFERENCES
    })
    expect(Object.isFrozen(SECURE_WEB_PREFERENCES)).toBe(true)
  })

  it('the console window is built with exactly that set and loads only the renderer', () => {
    built.windows.length = 0
    createMainWindow({ preload: '/app/preload.cjs', renderer: { url: 'file:///app/renderer/index.html' } })
    expect(built.windows).toHaveLength(1)
    const { options, url } = built.windows[0]!
    expect((options as { webPreferences: unknown }).webPreferences).toEqual({
      preload: '/app/preload.cjs',
      ...EXPECTED_PREFERENCES
    })
    expect(url).toBe('file:///app/renderer/index.html')
  })
})

describe('navigation guards', () => {
  it('will-navigate, will-redirect and will-attach-webview are prevented for foreign URLs', () => {
    const { contents, listeners } = fakeContents()
    hardenWebContents(contents)
    for (const event of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      for (const url of FOREIGN) expect(prevented(listeners, event, url), `${event} ${url}`).toBe(true)
    }
  })

  it('the window-open handler denies every URL', () => {
    const { contents, open } = fakeContents()
    hardenWebContents(contents)
    const handler = open()
    expect(handler).toBeTypeOf('function')
    for (const url of FOREIGN) {
      expect(handler!({ url, frameName: '', features: '', disposition: 'new-window' })).toEqual({
        action: 'deny'
      })
    }
  })

  it('the app sandboxes every renderer and guards every web contents it ever creates', () => {
    const appListeners = new Map<string, Listener>()
    const enableSandbox = vi.fn()
    const app = { enableSandbox, on: (event: string, fn: Listener) => appListeners.set(event, fn) }
    hardenApp(app as unknown as App)
    expect(enableSandbox).toHaveBeenCalledOnce()
    const { contents, listeners, open } = fakeContents()
    appListeners.get('web-contents-created')?.({}, contents)
    expect(prevented(listeners, 'will-navigate', FOREIGN[0]!)).toBe(true)
    expect(open()?.({ url: FOREIGN[0] })).toEqual({ action: 'deny' })
  })
})

describe('permissions', () => {
  const PERMISSIONS = [
    'media',
    'geolocation',
    'notifications',
    'clipboard-read',
    'openExternal',
    'fullscreen',
    'unknown'
  ]

  it('notifications are granted; every other permission request is refused and every other check answers no', () => {
    const { session, handlers } = fakeSession()
    hardenSession(session)
    const request = handlers['request']
    expect(request).toBeTypeOf('function')
    for (const permission of PERMISSIONS) {
      const allowed = permission === 'notifications'
      const callback = vi.fn()
      request!({}, permission, callback, {})
      expect(callback, permission).toHaveBeenCalledExactlyOnceWith(allowed)
      expect(handlers['check']?.({}, permission, 'file://', {}), permission).toBe(allowed)
    }
    expect(handlers['device']?.({ deviceType: 'usb', origin: 'file://' })).toBe(false)
  })
})

describe('content security policy', () => {
  it('is strict: nothing from elsewhere, no inline or eval script', () => {
    expect(directives(CONTENT_SECURITY_POLICY)).toEqual(EXPECTED_CSP)
  })

  it('is sent on every response, with nosniff, and the dev server only widens connect-src', () => {
    const { session, handlers } = fakeSession()
    hardenSession(session)
    const headers = handlers['headers']
    expect(headers).toBeTypeOf('function')
    const callback = vi.fn()
    headers!({ responseHeaders: { 'Content-Type': ['text/html'] } }, callback)
    expect(callback).toHaveBeenCalledExactlyOnceWith({
      responseHeaders: {
        'Content-Type': ['text/html'],
        'Content-Security-Policy': [CONTENT_SECURITY_POLICY],
        'X-Content-Type-Options': ['nosniff']
      }
    })

    const dev = fakeSession()
    hardenSession(dev.session, 'http://localhost:5173')
    const devCallback = vi.fn()
    dev.handlers['headers']!({ responseHeaders: {} }, devCallback)
    const sent = devCallback.mock.calls[0]![0].responseHeaders['Content-Security-Policy'][0]
    expect(directives(sent)).toEqual({ ...EXPECTED_CSP, 'connect-src': ["'self'", 'ws://localhost:5173'] })
  })

  // frame-ancestors has no effect in a meta tag (the header carries it); every other directive must match.
  const { 'frame-ancestors': _ignored, ...EXPECTED_META } = EXPECTED_CSP
  it('the source renderer/index.html carries the same policy in its meta tag', () => {
    const policy = metaPolicy(readFileSync(join(root, 'renderer/index.html'), 'utf8'))
    expect(policy).toBeDefined()
    expect(directives(policy!)).toEqual(EXPECTED_META)
  })

  const builtHtml = join(root, 'out/renderer/index.html')
  if (!existsSync(builtHtml))
    process.stderr.write(
      'SKIPPED the built renderer CSP check: out/renderer/index.html is not built (npm run build)\n'
    )
  it.skipIf(!existsSync(builtHtml))('the built out/renderer/index.html carries it too', () => {
    const policy = metaPolicy(readFileSync(builtHtml, 'utf8'))
    expect(policy).toBeDefined()
    expect(directives(policy!)).toEqual(EXPECTED_META)
  })
})

describe('dangerous Electron APIs in the main process and preload', () => {
  it('appear nowhere under main/ or preload/', () => {
    const { files, findings } = scanTree(root, ['main', 'preload'])
    expect(files).toContain('main/api/ipc.ts')
    expect(files).toContain('main/electron/window.ts')
    expect(files).toContain('preload/index.ts')
    expect(findings).toEqual([])
  })

  it('the scan finds each kind of weakening it looks for', () => {
    const sample = [
      "import { shell } from 'electron'",
      'shell.openExternal(url)',
      "contents['executeJavaScript'](code)",
      "app.commandLine.appendSwitch('ignore-certificate-errors')",
      "contents.on('certificate-error', allow)",
      'session.setPermissionRequestHandler((_c, _p, cb) => cb(true))',
      'const w = new BrowserWindow({ webPreferences: { webSecurity: false, sandbox: flag, nodeIntegrationInSubFrames: true } })',
      '// shell.openExternal in a comment does not count'
    ].join('\n')
    const found = scanSource('main/api/ipc.ts', sample).map((f) => `${f.line}:${f.what}`)
    expect(found).toEqual([
      '1:imports shell from electron',
      '2:uses openExternal',
      '3:uses executeJavaScript',
      '4:uses appendSwitch',
      "4:names 'ignore-certificate-errors'",
      "5:names 'certificate-error'",
      '6:uses setPermissionRequestHandler outside main/electron/security.ts',
      '7:new BrowserWindow outside main/electron/window.ts',
      '7:sets webSecurity to something other than true',
      '7:sets sandbox to something other than true',
      '7:sets nodeIntegrationInSubFrames to something other than false'
    ])
  })
})
