/**
 * Electron hardening in one place: sandboxed, isolated renderers without Node, a strict CSP, no
 * navigation, no new windows, no webviews, every permission denied but notifications. Only types come from `electron`,
 * so every setting and guard here is checked in plain Node (tests/unit/electron-security.test.ts) as
 * well as by electronegativity (`npm run audit:electron`).
 */
import type {
  App,
  HeadersReceivedResponse,
  OnHeadersReceivedListenerDetails,
  Session,
  WebContents,
  WebPreferences,
  WindowOpenHandlerResponse
} from 'electron'

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

/** Every webPreference a Taleus renderer gets besides its preload; nothing else is ever set. */
export const SECURE_WEB_PREFERENCES: Readonly<WebPreferences> = Object.freeze({
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
})

/** The only webPreferences a Taleus window gets. */
export function secureWebPreferences(preload: string): WebPreferences {
  return { preload, ...SECURE_WEB_PREFERENCES }
}

/** The guard of `will-navigate`, `will-redirect` and `will-attach-webview`: the console never leaves its page. */
export function denyNavigation(event: { preventDefault(): void }): void {
  event.preventDefault()
}

/** The window-open handler: no new windows, whatever the URL. */
export function denyWindowOpen(): WindowOpenHandlerResponse {
  return { action: 'deny' }
}

/**
 * The only permission a Taleus window gets: desktop notifications, so a waiting customer reaches an
 * operator looking at another window. Navigation is denied, so only our own renderer can ask.
 */
export const ALLOWED_PERMISSIONS: ReadonlySet<string> = new Set(['notifications'])

/** The permission request handler: notifications granted, every other request (camera, openExternal…) refused. */
export function denyPermissionRequest(
  _contents: unknown,
  permission: string,
  callback: (granted: boolean) => void
): void {
  callback(ALLOWED_PERMISSIONS.has(permission))
}

/** The permission check handler: notifications yes, anything else no. */
export function checkPermission(_contents: unknown, permission: string): boolean {
  return ALLOWED_PERMISSIONS.has(permission)
}

/** The device permission handler: nothing is granted. */
export function denyPermissionCheck(): boolean {
  return false
}

/** The policy sent with every response; `devServerOrigin` adds the Vite dev server's websocket. */
export function sessionContentSecurityPolicy(devServerOrigin?: string): string {
  if (devServerOrigin == null) return CONTENT_SECURITY_POLICY
  return CONTENT_SECURITY_POLICY.replace(
    "connect-src 'self'",
    `connect-src 'self' ${devServerOrigin.replace(/^http/, 'ws')}`
  )
}

/** The `onHeadersReceived` listener that puts `policy` (and nosniff) on every response. */
export function securityHeaders(
  policy: string
): (
  details: OnHeadersReceivedListenerDetails,
  callback: (response: HeadersReceivedResponse) => void
) => void {
  return (details, callback) => {
    callback({
      responseHeaders: {
        ...details.responseHeaders,
        'Content-Security-Policy': [policy],
        'X-Content-Type-Options': ['nosniff']
      }
    })
  }
}

/** Must run before `app` is ready: every renderer gets the OS sandbox, whatever its webPreferences say. */
export function hardenApp(app: App): void {
  app.enableSandbox()
  // Hardening of every web contents ever created (including any a bug might open).
  app.on('web-contents-created', (_event, contents) => {
    hardenWebContents(contents)
  })
}

/**
 * CSP on every response (the meta tag in index.html covers file:// loads, which have no headers),
 * and every permission request and check denied but notifications (no camera, geolocation, fullscreen API…).
 * `devServerOrigin` additionally allows the Vite dev server's websocket in `electron-vite dev`.
 */
export function hardenSession(session: Session, devServerOrigin?: string): void {
  session.webRequest.onHeadersReceived(securityHeaders(sessionContentSecurityPolicy(devServerOrigin)))
  session.setPermissionRequestHandler(denyPermissionRequest)
  session.setPermissionCheckHandler(checkPermission)
  session.setDevicePermissionHandler(denyPermissionCheck)
}

/** No navigation away from the console, no new windows, no webviews. */
export function hardenWebContents(contents: WebContents): void {
  contents.on('will-navigate', denyNavigation)
  contents.on('will-redirect', denyNavigation)
  contents.on('will-attach-webview', denyNavigation)
  contents.setWindowOpenHandler(denyWindowOpen)
}

export { isTrustedRendererUrl } from './trusted-url.ts'
