/** The CLI's client of a running node's local API (DIR/api.json + DIR/api-secret). */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ApiErrorBody, TaleusCommands } from '../../preload/contract.ts'
import { ROUTES } from '../../preload/contract.ts'
import { CliError } from './cli-error.ts'

/** Where `taleus serve` publishes its API for the other commands. */
export const API_INFO_FILE = 'api.json'
/** The bearer secret file, mode 0600. */
export const API_SECRET_FILE = 'api-secret'

/** Contents of DIR/api.json. */
export interface ApiInfo {
  url: string
  pid: number
}

/** Call one command of the node serving `dataDir`. */
export type ApiCall = <K extends keyof TaleusCommands>(
  name: K,
  ...input: Parameters<TaleusCommands[K]>
) => Promise<Awaited<ReturnType<TaleusCommands[K]>>>

/** A client for the node that serves `dataDir`; a clear CliError when none runs. */
export async function connectApi(dataDir: string): Promise<ApiCall> {
  const notRunning = new CliError(
    `no taleus node is running for ${dataDir} (start one with: taleus serve --data-dir ${dataDir})`
  )
  let info: ApiInfo
  let secret: string
  try {
    info = JSON.parse(await readFile(join(dataDir, API_INFO_FILE), 'utf8')) as ApiInfo
    secret = (await readFile(join(dataDir, API_SECRET_FILE), 'utf8')).trim()
  } catch {
    throw notRunning
  }
  if (typeof info.url !== 'string' || !info.url.startsWith('http://127.0.0.1:')) throw notRunning

  return (async (name: keyof TaleusCommands, input?: unknown) => {
    const route = ROUTES[name]
    const url = new URL(route.path, info.url)
    // the actor header: the audit trail records this call as the command line's
    const init: RequestInit = {
      method: route.method,
      headers: { authorization: `Bearer ${secret}`, 'x-taleus-actor': 'cli' }
    }
    if (route.method === 'GET' && input !== undefined) {
      for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
        if (value !== undefined)
          url.searchParams.set(key, typeof value === 'object' ? JSON.stringify(value) : String(value))
      }
    } else if (route.method === 'POST') {
      init.headers = { ...init.headers, 'content-type': 'application/json' }
      init.body = JSON.stringify(input ?? {})
    }
    let res: Response
    try {
      res = await fetch(url, init)
    } catch {
      throw notRunning
    }
    const body = (await res.json().catch(() => undefined)) as unknown
    if (!res.ok) {
      const error = (body as ApiErrorBody | undefined)?.error
      throw new CliError(
        error === undefined ? `the node answered HTTP ${res.status}` : `${error.code}: ${error.message}`
      )
    }
    return body
  }) as ApiCall
}
