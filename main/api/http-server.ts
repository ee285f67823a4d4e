/**
 * The console's local HTTP API on 127.0.0.1: the commands of ROUTES, the event stream (SSE) and the built
 * browser console. Every /api/ request needs the bearer secret; a browser request must come from our own
 * origin; only loopback clients are served.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, resolve, sep } from 'node:path'
import type { ConsoleEvent } from '../views/console-views.ts'
import type { ApiErrorBody, CommandName, TaleusApi } from '../../preload/contract.ts'
import { EVENTS_PATH, ROUTES } from '../../preload/contract.ts'
import { ApiError, isApiError } from '../service/api-error.ts'
import { checkBearer, isLoopback } from './auth.ts'
import { createDispatcher, toApiError } from './dispatch.ts'
import { BOOLEAN_QUERY_KEYS, NUMERIC_QUERY_KEYS } from './schemas.ts'
import { BENCH_EVENTS_PATH, BENCH_SESSIONS_PATH, benchEnabled } from '../service/bench-sessions.ts'

/** Options of startApiServer. */
export interface ApiServerInit {
  api: TaleusApi
  /** Bearer secret every /api/ request must carry; a function is asked on each request (rotation). */
  secret: string | (() => string)
  /** 0 (default) picks a free port. */
  port?: number
  /** Built renderer (out/renderer) served at `/` without auth; omitted = no browser console. */
  staticDir?: string
  /** Keep-alive comment interval on the event stream. Default 15 000. */
  keepAliveMs?: number
}

/** A running API server. */
export interface ApiServer {
  /** `http://127.0.0.1:PORT` */
  url: string
  close(): Promise<void>
}

/** Header by which the CLI names itself as the actor of its calls (for the audit trail). */
export const ACTOR_HEADER = 'x-taleus-actor'

const MAX_BODY_BYTES = 64 * 1024
/** A client that lets this much event data pile up is cut off rather than growing our memory. */
const MAX_SSE_BACKLOG = 8 * 1024 * 1024
/**
 * Event streams open at once (console tabs, Electron windows): each may hold MAX_SSE_BACKLOG, so their
 * number bounds what slow readers can make us hold (an outside tester held 300: +100 MB).
 */
export const MAX_EVENT_STREAMS = 32

/** Security headers on every answer. */
const BASE_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin'
}

/** The browser console loads only its own files; styles may be inline (Svelte style attributes). */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8'
}

/** Start the API server on 127.0.0.1. */
export async function startApiServer(init: ApiServerInit): Promise<ApiServer> {
  const dispatch = createDispatcher(init.api)
  const keepAliveMs = init.keepAliveMs ?? 15_000
  const routes = new Map<string, CommandName>()
  for (const [name, route] of Object.entries(ROUTES))
    routes.set(`${route.method} ${route.path}`, name as CommandName)
  const streams = new Set<ServerResponse>()
  // Load tests only (TALEUS_BENCH=1 when the server starts): off by default, behind the same secret.
  const injectSessions = benchEnabled()
    ? (init.api as { injectSyntheticSessions?: (input: { count: number }) => Promise<unknown> })
        .injectSyntheticSessions
    : undefined
  const injectEvents = benchEnabled()
    ? (init.api as { injectSessionEvents?: (input: unknown) => Promise<unknown> }).injectSessionEvents
    : undefined
  let origin = ''
  let host = ''

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, toApiError(err))
      else res.destroy()
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress)) {
      sendError(res, new ApiError('forbidden', 403, 'only this computer may use the console API'))
      return
    }
    // A foreign Host means DNS rebinding or a proxy: neither is ours.
    if (req.headers.host !== host) {
      sendError(res, new ApiError('forbidden', 403, 'wrong host'))
      return
    }
    const url = new URL(req.url ?? '/', origin)
    if (!url.pathname.startsWith('/api/') && url.pathname !== '/api') {
      await serveStatic(req, res, url.pathname)
      return
    }
    if (req.headers.origin !== undefined && req.headers.origin !== origin) {
      sendError(res, new ApiError('forbidden', 403, 'requests from other web pages are refused'))
      return
    }
    const secret = currentSecret()
    if (!checkBearer(req.headers.authorization, secret)) {
      sendError(res, new ApiError('unauthorized', 401, 'the console secret is missing or wrong'))
      return
    }
    if (url.pathname === EVENTS_PATH) {
      if (req.method !== 'GET') throw new ApiError('method-not-allowed', 405, 'use GET')
      if (streams.size >= MAX_EVENT_STREAMS)
        throw new ApiError(
          'too-many-streams',
          503,
          `the console is open in ${MAX_EVENT_STREAMS} windows or tabs already; close one and reload`
        )
      openEventStream(req, res, secret)
      return
    }
    if (injectSessions !== undefined && url.pathname === BENCH_SESSIONS_PATH) {
      if (req.method !== 'POST') throw new ApiError('method-not-allowed', 405, 'use POST')
      const body = (await readJsonBody(req)) as { count: number }
      sendJson(res, 200, await injectSessions.call(init.api, body))
      return
    }
    if (injectEvents !== undefined && url.pathname === BENCH_EVENTS_PATH) {
      if (req.method !== 'POST') throw new ApiError('method-not-allowed', 405, 'use POST')
      sendJson(res, 200, await injectEvents.call(init.api, await readJsonBody(req)))
      return
    }
    const name = routes.get(`${req.method} ${url.pathname}`)
    if (name === undefined) {
      const known = [...routes.keys()].some((k) => k.endsWith(` ${url.pathname}`))
      throw known
        ? new ApiError('method-not-allowed', 405, 'wrong method for this path')
        : new ApiError('unknown-command', 404, 'no such API path')
    }
    const input = req.method === 'GET' ? queryInput(url.searchParams) : await readJsonBody(req)
    // the CLI says so; any other caller holding the secret is the browser console
    const actor = req.headers[ACTOR_HEADER] === 'cli' ? 'cli' : 'browser'
    const result = await dispatch(name, input, { actor })
    sendJson(res, 200, result ?? null)
  }

  /** The secret now; a stream opened with another one (rotated since) carries nothing more. */
  function currentSecret(): string {
    return typeof init.secret === 'function' ? init.secret() : init.secret
  }

  function openEventStream(req: IncomingMessage, res: ServerResponse, openedWith: string): void {
    res.writeHead(200, {
      ...BASE_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive'
    })
    res.write(': connected\n\n')
    streams.add(res)
    const send = (chunk: string): void => {
      // a rotated secret signs every open tab out: its reconnect gets 401 and the sign-in page
      if (currentSecret() !== openedWith) {
        res.end()
        return
      }
      if (res.writableLength > MAX_SSE_BACKLOG) {
        res.destroy()
        return
      }
      res.write(chunk)
    }
    const unsubscribe = init.api.subscribe((events: ConsoleEvent[]) =>
      send(`data: ${JSON.stringify(events)}\n\n`)
    )
    const timer = setInterval(() => send(': keep-alive\n\n'), keepAliveMs)
    timer.unref()
    // a rotation is noticed within a second (the secret file is watched as often) even on a quiet node
    const rotation = setInterval(() => {
      if (currentSecret() !== openedWith) res.end()
    }, 1000)
    rotation.unref()
    const end = (): void => {
      clearInterval(timer)
      clearInterval(rotation)
      unsubscribe()
      streams.delete(res)
    }
    req.on('close', end)
    res.on('close', end)
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    if (init.staticDir === undefined) {
      sendError(res, new ApiError('not-found', 404, 'not found'))
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, new ApiError('method-not-allowed', 405, 'use GET'))
      return
    }
    const root = resolve(init.staticDir)
    let decoded: string
    try {
      decoded = decodeURIComponent(pathname)
    } catch {
      sendError(res, new ApiError('bad-input', 400, 'bad path'))
      return
    }
    let file = resolve(join(root, decoded))
    if (file !== root && !file.startsWith(root + sep)) {
      sendError(res, new ApiError('not-found', 404, 'not found'))
      return
    }
    let info = await stat(file).catch(() => undefined)
    if (info?.isDirectory()) {
      file = join(file, 'index.html')
      info = await stat(file).catch(() => undefined)
    }
    if (info === undefined && extname(decoded) === '') {
      // Client-side routes fall back to the app shell.
      file = join(root, 'index.html')
      info = await stat(file).catch(() => undefined)
    }
    if (info === undefined || !info.isFile()) {
      sendError(res, new ApiError('not-found', 404, 'not found'))
      return
    }
    res.writeHead(200, {
      ...BASE_HEADERS,
      'content-security-policy': CSP,
      'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': info.size,
      'cache-control': file.endsWith('.html') ? 'no-store' : 'no-cache'
    })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res)
  }

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject)
      resolvePromise()
    })
  })
  const port = (server.address() as AddressInfo).port
  origin = `http://127.0.0.1:${port}`
  host = `127.0.0.1:${port}`

  let closing: Promise<void> | undefined
  return {
    url: origin,
    close() {
      closing ??= new Promise<void>((resolvePromise) => {
        for (const res of streams) res.end()
        streams.clear()
        server.close(() => resolvePromise())
        server.closeIdleConnections()
        // Event streams and slow clients must not hold the shutdown.
        setTimeout(() => server.closeAllConnections(), 1000).unref()
      })
      return closing
    }
  }
}

/** GET input: numbers for the numeric keys, JSON for object/array text, text otherwise; none = undefined. */
function queryInput(params: URLSearchParams): unknown {
  const keys = [...new Set(params.keys())]
  if (keys.length === 0) return undefined
  const input: Record<string, unknown> = {}
  for (const key of keys) {
    const raw = params.get(key) ?? ''
    let value: unknown = raw
    if (NUMERIC_QUERY_KEYS.has(key) && /^-?\d+(\.\d+)?$/.test(raw)) {
      value = Number(raw)
    } else if (BOOLEAN_QUERY_KEYS.has(key) && (raw === 'true' || raw === 'false')) {
      value = raw === 'true'
    } else if (raw.startsWith('{') || raw.startsWith('[')) {
      try {
        value = JSON.parse(raw)
      } catch {
        throw new ApiError('bad-input', 400, `${key}: not valid JSON`)
      }
    }
    Object.defineProperty(input, key, { value, enumerable: true, writable: true, configurable: true })
  }
  return input
}

/** POST input: a JSON body of at most 64 KiB; an empty body = undefined. */
async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type']
  if (type !== undefined && !/^application\/json(\s*;|$)/i.test(type)) {
    throw new ApiError('unsupported-media-type', 415, 'send JSON (content-type: application/json)')
  }
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) {
    req.resume()
    throw new ApiError('payload-too-large', 413, 'the request is too large')
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) {
      throw new ApiError('payload-too-large', 413, 'the request is too large')
    }
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new ApiError('bad-input', 400, 'the request body is not valid JSON')
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...BASE_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store'
  })
  res.end(text)
}

function sendError(res: ServerResponse, err: ApiError): void {
  const body: ApiErrorBody = { error: { code: err.code, message: err.message } }
  if (err.status === 413) res.setHeader('connection', 'close')
  sendJson(res, isApiError(err) ? err.status : 500, body)
}
