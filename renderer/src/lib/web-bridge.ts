/**
 * TaleusApi over the local HTTP API of `taleus serve`: commands by ROUTES, events by server-sent events
 * read with fetch (EventSource cannot send the Authorization header), reconnecting with backoff.
 */
import {
  EVENTS_PATH,
  commandsVia,
  ROUTES,
  type ApiErrorBody,
  type CommandName,
  type ConsoleEvent,
  type TaleusApi
} from '../../../preload/contract.ts'
import { ApiCallError } from './api-error.ts'
import { withoutSecret } from './route.ts'

const SECRET_KEY = 'taleus.secret'
const SECRET_IN_HASH = /(?:^#|&)secret=([^&]+)/

/**
 * The console secret: from the URL fragment `#secret=…` (then removed from the address bar, so it is
 * not in history or screenshots; the rest of the fragment, the screen, stays) or, after a reload, from
 * this tab's sessionStorage.
 */
export function readSecret(loc: Location = location, storage: Storage = sessionStorage): string | undefined {
  const match = SECRET_IN_HASH.exec(loc.hash)
  if (match?.[1] != null) {
    const secret = decodeURIComponent(match[1])
    storage.setItem(SECRET_KEY, secret)
    history.replaceState(history.state, '', loc.pathname + loc.search + withoutSecret(loc.hash))
    return secret
  }
  return storage.getItem(SECRET_KEY) ?? undefined
}

/** True when the fragment carries a secret (the console address was pasted into the tab). */
export function hashHasSecret(loc: Location = location): boolean {
  return SECRET_IN_HASH.test(loc.hash)
}

/** Remembers a secret for this tab (reloads keep it; other tabs do not see it). */
export function storeSecret(secret: string, storage: Storage = sessionStorage): void {
  storage.setItem(SECRET_KEY, secret)
}

/** Forgets this tab's secret. */
export function forgetSecret(storage: Storage = sessionStorage): void {
  storage.removeItem(SECRET_KEY)
}

/** What a person pasted to sign in: a console address (maybe of another origin) or the bare secret. */
export type SignInText = { url: URL; secret: string } | { secret: string } | undefined

/** Reads a pasted console address or secret; undefined when it is neither. */
export function parseSignIn(text: string): SignInText {
  const trimmed = text.trim()
  if (trimmed === '') return undefined
  if (/^https?:\/\//i.test(trimmed)) {
    let url: URL
    try {
      url = new URL(trimmed)
    } catch {
      return undefined
    }
    const match = SECRET_IN_HASH.exec(url.hash)
    return match?.[1] == null ? undefined : { url, secret: decodeURIComponent(match[1]) }
  }
  const match = SECRET_IN_HASH.exec(trimmed.startsWith('#') ? trimmed : `#${trimmed}`)
  if (match?.[1] != null) return { secret: decodeURIComponent(match[1]) }
  return /^[A-Za-z0-9_\-.~+/=]{8,}$/.test(trimmed) ? { secret: trimmed } : undefined
}

/** State of the event stream. */
export type StreamStatus = 'connecting' | 'open' | 'reconnecting' | 'unauthorized'

/** Init of createWebBridge. */
export interface WebBridgeInit {
  secret: string
  /** Default: this page's origin. */
  baseUrl?: string
  /** Told whenever the event stream changes state; `open` after a reconnect means events were missed. */
  onStatus?: (status: StreamStatus) => void
  /** First reconnect delay in ms, doubled up to maxBackoffMs. Default 500. */
  backoffMs?: number
  /** Default 10 000. */
  maxBackoffMs?: number
}

function query(input: unknown): string {
  if (input == null || typeof input !== 'object') return ''
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined && value !== null) params.set(key, String(value))
  }
  const text = params.toString()
  return text === '' ? '' : `?${text}`
}

async function errorOf(res: Response): Promise<ApiCallError> {
  try {
    const body = (await res.json()) as Partial<ApiErrorBody>
    if (typeof body.error?.code === 'string')
      return new ApiCallError(body.error.code, body.error.message ?? '')
  } catch {
    // not JSON: fall through to the status
  }
  return new ApiCallError(
    res.status === 401 ? 'unauthorized' : 'http-error',
    `the node answered ${res.status}`
  )
}

/** Splits a server-sent-events text buffer into complete `data` payloads and the unfinished rest. */
export function parseSse(buffer: string): { payloads: string[]; rest: string } {
  const blocks = buffer.split(/\r?\n\r?\n/)
  const rest = blocks.pop() ?? ''
  const payloads: string[] = []
  for (const block of blocks) {
    const data = block
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
    if (data.length > 0) payloads.push(data.join('\n'))
  }
  return { payloads, rest }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

/** The browser console's implementation of TaleusApi. */
export function createWebBridge(init: WebBridgeInit): TaleusApi {
  const base = init.baseUrl ?? location.origin
  const auth = { authorization: `Bearer ${init.secret}` }
  const backoffMs = init.backoffMs ?? 500
  const maxBackoffMs = init.maxBackoffMs ?? 10_000

  async function call(name: CommandName, input?: unknown): Promise<unknown> {
    const route = ROUTES[name]
    let res: Response
    try {
      res =
        route.method === 'GET'
          ? await fetch(base + route.path + query(input), { headers: auth, cache: 'no-store' })
          : await fetch(base + route.path, {
              method: 'POST',
              headers: { ...auth, 'content-type': 'application/json' },
              body: JSON.stringify(input ?? {})
            })
    } catch {
      throw new ApiCallError('unreachable', 'the Taleus node is not answering')
    }
    if (!res.ok) {
      const err = await errorOf(res)
      // the key this tab holds is no longer accepted (rotated): the whole tab signs out, not one action
      if (err.code === 'unauthorized') init.onStatus?.('unauthorized')
      throw err
    }
    return res.json()
  }

  async function stream(onBatch: (events: ConsoleEvent[]) => void, signal: AbortSignal): Promise<void> {
    let delay = backoffMs
    let first = true
    while (!signal.aborted) {
      init.onStatus?.(first ? 'connecting' : 'reconnecting')
      first = false
      try {
        const res = await fetch(base + EVENTS_PATH, {
          headers: { ...auth, accept: 'text/event-stream' },
          cache: 'no-store',
          signal
        })
        if (res.status === 401) init.onStatus?.('unauthorized')
        if (res.ok && res.body != null) {
          init.onStatus?.('open')
          delay = backoffMs
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
          let buffer = ''
          for (;;) {
            const { value, done } = await reader.read()
            if (done) break
            const parsed = parseSse(buffer + value)
            buffer = parsed.rest
            for (const payload of parsed.payloads) {
              let batch: unknown
              try {
                batch = JSON.parse(payload)
              } catch {
                continue
              }
              if (Array.isArray(batch)) onBatch(batch as ConsoleEvent[])
            }
          }
        }
      } catch {
        // network error or abort: retry below unless unsubscribed
      }
      if (signal.aborted) return
      await sleep(delay, signal)
      delay = Math.min(delay * 2, maxBackoffMs)
    }
  }

  return {
    ...commandsVia(call),
    subscribe(onBatch) {
      const controller = new AbortController()
      void stream(onBatch, controller.signal)
      return () => {
        controller.abort()
      }
    }
  }
}
