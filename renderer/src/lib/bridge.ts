/** Picks the API for this shell: `window.taleus` in Electron, the HTTP bridge in a browser. */
import { ROUTES, type CommandName, type TaleusApi } from '../../../preload/contract.ts'
import { toApiCallError } from './api-error.ts'
import { createWebBridge, readSecret, type StreamStatus } from './web-bridge.ts'

/** Which shell the renderer runs in. */
export type Shell = 'electron' | 'web'

/** The chosen API and its shell. */
export interface Bridge {
  api: TaleusApi
  shell: Shell
}

/** Every command rejects with an ApiCallError, whichever shell failed. */
function normaliseErrors(inner: TaleusApi): TaleusApi {
  const api = { subscribe: (onBatch) => inner.subscribe(onBatch) } as TaleusApi
  for (const name of Object.keys(ROUTES) as CommandName[]) {
    const command = inner[name] as (input?: unknown) => Promise<unknown>
    ;(api as unknown as Record<string, unknown>)[name] = (input?: unknown) =>
      command(input).catch((err: unknown) => {
        throw toApiCallError(err)
      })
  }
  return api
}

/** True in the Electron shell (the preload gave us `window.taleus`). */
export function inElectron(): boolean {
  return window.taleus != null
}

/**
 * The bridge, or undefined in a browser opened without the console secret. `secret` overrides the one
 * in the address or the tab's storage.
 */
export function createBridge(
  onStatus: (status: StreamStatus | 'ipc') => void,
  secret: string | undefined = readSecret()
): Bridge | undefined {
  if (window.taleus != null) {
    onStatus('ipc')
    return { api: normaliseErrors(window.taleus), shell: 'electron' }
  }
  if (secret == null) return undefined
  return { api: normaliseErrors(createWebBridge({ secret, onStatus })), shell: 'web' }
}
