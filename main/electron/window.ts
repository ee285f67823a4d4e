/** The console's one window and where its renderer comes from. */
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BrowserWindow } from 'electron'
import { secureWebPreferences } from './security.ts'

/** Where the renderer is loaded from: the built file, or the dev server under `electron-vite dev`. */
export interface RendererTarget {
  url: string
  /** Origin of the dev server, when there is one. */
  devServerOrigin?: string
}

/** Resolves the renderer location relative to the built main bundle (out/main). */
export function rendererTarget(
  mainDir: string,
  devUrl = process.env['ELECTRON_RENDERER_URL']
): RendererTarget {
  if (devUrl != null && devUrl !== '') {
    return { url: devUrl, devServerOrigin: new URL(devUrl).origin }
  }
  return { url: pathToFileURL(join(mainDir, '../renderer/index.html')).href }
}

/** Init of createMainWindow. */
export interface MainWindowInit {
  /** Absolute path of the built CommonJS preload (out/preload/index.cjs). */
  preload: string
  renderer: RendererTarget
}

/** Creates the console window; it is shown once its first paint is ready. */
export function createMainWindow(init: MainWindowInit): BrowserWindow {
  const window = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Taleus',
    autoHideMenuBar: true,
    // the decisive settings spelled out here too, so electronegativity can verify them (npm run audit:electron);
    // tests/unit/electron-security.test.ts checks the whole object this constructor receives
    webPreferences: {
      ...secureWebPreferences(init.preload),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      disableBlinkFeatures: 'Auxclick'
    }
  })
  window.once('ready-to-show', () => {
    window.show()
  })
  void window.loadURL(init.renderer.url)
  return window
}
