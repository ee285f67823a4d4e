/**
 * Electron hardening in one place: sandboxed, isolated renderers without Node, a strict CSP, no
 * navigation, no new windows, no webviews, every permission denied. Checked by electronegativity (issue D).
 */
import { app, type Session, type WebContents, type WebPreferences } from 'electron'

/** The renderer's policy: our own files only; images also from data:/blob: (QR codes, decoded uploads). */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  // Svelte writes style attributes for positions/sizes (virtualised rows); no script can run from CSS.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'"
].join('; ')

/** Must run before `app` is ready: every renderer gets the OS sandbox, whatever its webPreferences say. */
export function hardenApp(): void {
  app.enableSandbox()
  // Hardening of every web contents ever created (including any a bug might open).
  app.on('web-contents-created', (_event, contents) => {
    hardenWebContents(contents)
  })
}

/** The only webPreferences a Taleus window gets. */
export function secureWebPreferences(preload: string): WebPreferences {
  return {
    preload,
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
    // Middle-click (auxclick) could open links outside the window-open handler's reach.
    disableBlinkFeatures: 'Auxclick'
  }
}

/**
 * CSP on every response (the meta tag in index.html covers file:// loads, which have no headers),
 * and all permission requests and checks denied (no camera, notifications, geolocation, fullscreen API…).
 * `devServerOrigin` additionally allows the Vite dev server's websocket in `electron-vite dev`.
 */
export function hardenSession(session: Session, devServerOrigin?: string): void {
  const policy =
    devServerOrigin == null
      ? CONTENT_SECURITY_POLICY
      : CONTENT_SECURITY_POLICY.replace(
          "connect-src 'self'",
          `connect-src 'self' ${devServerOrigin.replace(/^http/, 'ws')}`
        )
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({
      responseHeaders: {
        ...details.responseHeaders,
        'Content-Security-Policy': [policy],
        'X-Content-Type-Options': ['nosniff']
      }
    })
  })
  session.setPermissionRequestHandler((_contents, _permission, callback) => {
    callback(false)
  })
  session.setPermissionCheckHandler(() => false)
  session.setDevicePermissionHandler(() => false)
}

/** No navigation away from the console, no new windows, no webviews. */
export function hardenWebContents(contents: WebContents): void {
  contents.on('will-navigate', (event) => {
    event.preventDefault()
  })
  contents.on('will-redirect', (event) => {
    event.preventDefault()
  })
  contents.on('will-attach-webview', (event) => {
    event.preventDefault()
  })
  contents.setWindowOpenHandler(() => ({ action: 'deny' }))
}

export { isTrustedRendererUrl } from './trusted-url.ts'
