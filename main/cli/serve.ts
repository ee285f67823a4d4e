/** `taleus serve`: the merchant node with its local API and browser console. */
import { existsSync } from 'node:fs'
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_ABUSE_LIMITS } from '../bootstrap/abuse-guard.ts'
import type { AbuseLimits } from '../bootstrap/abuse-guard.ts'
import { API_INFO_FILE } from './api-client.ts'
import { printable } from './terminal-text.ts'

/** Options of `taleus serve`. */
export interface ServeOptions {
  dataDir: string
  listen?: string[]
  mdns: boolean
  apiPort?: number
  /** Concurrent sessions before new contacts get `busy`. */
  maxSessions?: number
  /** Burst of confirmedPerToken (the abuse guard's bound on tallies one unlimited token makes). */
  tokenTallyBurst?: number
  /** postgres://… of a cadre store shared with other nodes; default the data folder (or env TALEUS_STORE). */
  store?: string
}

/** The abuse limits `serve`'s flags set (none: the guard's defaults). */
export function serviceLimits(opts: Pick<ServeOptions, 'tokenTallyBurst'>): {
  abuseLimits?: Partial<AbuseLimits>
} {
  if (opts.tokenTallyBurst === undefined) return {}
  return {
    abuseLimits: {
      confirmedPerToken: { ...DEFAULT_ABUSE_LIMITS.confirmedPerToken, burst: opts.tokenTallyBurst }
    }
  }
}

/** Start the node and the API; resolves once stopped by SIGINT/SIGTERM. */
export async function serve(opts: ServeOptions): Promise<void> {
  // Loaded here, not at the top: `token list` and friends need none of libp2p.
  const [{ createConsoleService }, { startApiServer }, consoleSecret] = await Promise.all([
    import('../service/index.ts'),
    import('../api/http-server.ts'),
    import('./console-secret.ts')
  ])
  if (opts.store !== undefined && new URL(opts.store).password !== '')
    process.stderr.write(
      'taleus: warning: the --store URL holds a password, visible to other local users via ps; ' +
        'put it in PGPASSWORD or ~/.pgpass instead\n'
    )
  // stdout carries our JSON lines only: libraries' console output goes to stderr, bounded
  const { routeLibraryLog } = await import('../service/library-log.ts')
  routeLibraryLog()
  const dataDir = resolve(opts.dataDir)
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const service = await createConsoleService({
    dataDir,
    mdns: opts.mdns,
    actor: 'cli',
    ...(opts.maxSessions === undefined ? {} : { maxConcurrentSessions: opts.maxSessions }),
    ...serviceLimits(opts),
    ...(opts.store === undefined ? {} : { store: opts.store }),
    // Default (the service's): every interface, so customers reach the node over the LAN.
    ...(opts.listen === undefined || opts.listen.length === 0 ? {} : { listen: opts.listen }),
    // a warning may name what a peer sent
    onWarning: (words) => process.stderr.write(`taleus: ${printable(words)}\n`)
  })
  await service.start()
  // the same secret and port as last time: open tabs and bookmarks keep working across restarts
  const infoFile = join(dataDir, API_INFO_FILE)
  const secret = await consoleSecret.loadOrCreateSecret(dataDir)
  const staticDir = findRendererDir()
  const start = (port: number): ReturnType<typeof startApiServer> =>
    startApiServer({
      api: service,
      // `taleus console --rotate` replaces the file; the server follows within a second
      secret: consoleSecret.watchSecret(dataDir, secret),
      port,
      ...(staticDir === undefined ? {} : { staticDir })
    })
  let api: Awaited<ReturnType<typeof startApiServer>>
  try {
    const saved = opts.apiPort === undefined ? await consoleSecret.savedPort(dataDir) : undefined
    api = await start(opts.apiPort ?? saved ?? 0).catch(async (err: unknown) => {
      // last run's port is taken now: any free one (the address changes, and we say so)
      if (saved === undefined || (err as { code?: unknown }).code !== 'EADDRINUSE') throw err
      process.stderr.write(`taleus: port ${saved} is in use; the console moves to another port\n`)
      return start(0)
    })
    await consoleSecret.savePort(dataDir, Number(new URL(api.url).port)).catch(() => {})
  } catch (err) {
    await service.stop().catch(() => {})
    throw err
  }
  await writeFile(infoFile, JSON.stringify({ url: api.url, pid: process.pid }) + '\n', { mode: 0o600 })
  await chmod(infoFile, 0o600).catch(() => {})

  let resolveStopped!: () => void
  let rejectStopped!: (err: unknown) => void
  const stopped = new Promise<void>((res, rej) => {
    resolveStopped = res
    rejectStopped = rej
  })
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    void (async () => {
      // the secret stays (the next run reuses it); only the "running" marker goes
      await rm(infoFile, { force: true }).catch(() => {})
      await api.close().catch(() => {})
      await service.stop()
    })().then(resolveStopped, rejectStopped)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)

  // The human line goes first so a reader that sees `ready` has it already.
  if (staticDir !== undefined) {
    // The secret goes to a person's terminal only: piped stderr ends up in log files others can read.
    process.stderr.write(
      process.stderr.isTTY === true
        ? `taleus: console at ${api.url}/#secret=${secret}\n`
        : `taleus: console at ${api.url} — open it with: taleus console --data-dir ${dataDir}\n`
    )
  }
  process.stdout.write(
    JSON.stringify({
      event: 'ready',
      peerId: service.peerId,
      multiaddrs: service.multiaddrs(),
      api: api.url
    }) + '\n'
  )
  await stopped
}

/** The built browser console: out/renderer of the package this file runs from (built or source). */
function findRendererDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) {
      const renderer = join(dir, 'out', 'renderer')
      return existsSync(join(renderer, 'index.html')) ? renderer : undefined
    }
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}
