/** Which frames may call the console API (kept free of Electron imports so it is testable in Node). */

/**
 * True when `frameUrl` is our renderer: the same file (built app) or the same origin (dev server).
 * Query and fragment are ignored; anything else (another file, another origin, about:blank) is not ours.
 */
export function isTrustedRendererUrl(frameUrl: string | undefined, rendererUrl: string): boolean {
  if (frameUrl == null || frameUrl === '') return false
  let frame: URL
  let ours: URL
  try {
    frame = new URL(frameUrl)
    ours = new URL(rendererUrl)
  } catch {
    return false
  }
  if (ours.protocol === 'file:') {
    return frame.protocol === 'file:' && frame.host === ours.host && frame.pathname === ours.pathname
  }
  return frame.origin === ours.origin
}
