/**
 * Helpers of the hostile suite: a listener backed by the real lowdb store, a raw client that sends any
 * bytes and captures every byte A sends back, and a watch that collects secrets and every text the
 * suite produced, to prove none of the secrets leaked.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p, Stream } from '@libp2p/interface'
import { PROTOCOL_ID, SessionManager, isTerminalState } from '../../main/bootstrap/index.ts'
import type { SessionEvent, SessionManagerInit } from '../../main/bootstrap/index.ts'
import { createTaleusNode } from '../../main/node/index.ts'
import pg from 'pg'
import { openStore } from '../../main/store/index.ts'
import type { LowdbMerchantStore, StoreInit } from '../../main/store/merchant-store.ts'
import type { PgMerchantStore } from '../../main/store/pg/index.ts'
import { TEST_PG, storeKinds } from '../helpers/stores.ts'
import type { StoreKind } from '../helpers/stores.ts'

export type { StoreKind }

/**
 * The stores a store-level hostile case runs on: lowdb, and PostgreSQL when TALEUS_TEST_PG names a server
 * (`npm test` starts one as root; otherwise the PostgreSQL runs are skipped and say so once).
 */
export function hostileStores(): StoreKind[] {
  return storeKinds()
}

/** A fresh folder under the OS temp dir; remove it with `removeDir`. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `taleus-hostile-${prefix}-`))
}

/** Removes a folder made by tempDir. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

/** A listener (party A) on 127.0.0.1 with the real store, and a cadre we can look for in A's bytes. */
export interface StoreListener {
  dir: string
  /** Which store it runs on. */
  kind: StoreKind['name']
  /** The store; on PostgreSQL a PgMerchantStore seen through what both stores have. */
  store: LowdbMerchantStore
  node: Libp2p
  manager: SessionManager
  peerId: string
  /** A's cadre addresses (disclosed only in an approved response). */
  cadre: string[]
  /** Every event the manager emitted. */
  events: SessionEvent[]
  /** A dialable address of A. */
  addr(): string
  /** Resolves once no listener session runs. */
  idle(): Promise<void>
  close(): Promise<void>
}

/**
 * Starts A: node + store in `dir` (a fresh temp dir when omitted) + SessionManager; on `kind` (lowdb when
 * omitted; a PostgreSQL kind gets a schema of its own, dropped by the kind's cleanup).
 */
export async function startStoreListener(
  init: SessionManagerInit & { dir?: string; storeInit?: StoreInit; kind?: StoreKind } = {}
): Promise<StoreListener> {
  const { dir: givenDir, storeInit, kind, ...config } = init
  const dir = givenDir ?? (await tempDir('listener'))
  const store =
    kind === undefined || kind.name === 'lowdb'
      ? await openStore(dir, { auditFlushMs: 10, ...storeInit })
      : // the hostile cases call only what both stores have
        ((await kind.open(
          dir,
          storeInit?.now === undefined ? {} : { now: storeInit.now }
        )) as unknown as LowdbMerchantStore)
  const node = await createTaleusNode()
  const peerId = node.peerId.toString()
  const cadre = [`/dns4/cadre-a-${peerId.slice(-8)}.example/tcp/4001/p2p/${peerId}`]
  const manager = new SessionManager(
    store.hooks({ peerId, multiaddrs: () => node.getMultiaddrs().map(String) }),
    {
      stepTimeoutMs: 1000,
      sessionTimeoutMs: 10_000,
      cadrePeerAddrs: () => cadre,
      ...config
    }
  )
  const events: SessionEvent[] = []
  manager.addEventListener('session', (evt) => events.push(evt.detail))
  await manager.start(node)
  return {
    dir,
    kind: kind?.name ?? 'lowdb',
    store,
    node,
    manager,
    peerId,
    cadre,
    events,
    addr: () => node.getMultiaddrs()[0]!.toString(),
    idle: () => whenIdle(manager),
    async close() {
      await manager.stop()
      await node.stop()
      await store.close()
      if (givenDir === undefined) await removeDir(dir)
      await kind?.cleanup()
    }
  }
}

/** The PostgreSQL store of a listener started on the postgres kind (its schema, the cadre's API). */
export function pgStoreOf(A: StoreListener): PgMerchantStore {
  if (A.kind !== 'postgres') throw new Error('not a PostgreSQL listener')
  return A.store as unknown as PgMerchantStore
}

/** Runs `fn` with a client on `schema` of the test server (the tests read committed rows through it). */
export async function withSchema<T>(schema: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_PG, options: `-c search_path=${schema}` })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/**
 * Every row of every table of `schema` as JSON text, table by table, except `cadre_secrets` (the cadre's
 * token secret and peer key: the database's counterpart of DIR/secret and DIR/peer.key). The tallies table
 * is included: unlike tallies.jsonl its rows hold no grant (the cadre re-derives it).
 */
export async function schemaTexts(schema: string): Promise<Array<{ source: string; text: string }>> {
  return withSchema(schema, async (client) => {
    const tables = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
      [schema]
    )
    const out: Array<{ source: string; text: string }> = []
    for (const { table_name: table } of tables.rows) {
      if (table === 'cadre_secrets') continue
      const rows = await client.query<{ j: string }>(`SELECT row_to_json(t)::text AS j FROM "${table}" t`)
      out.push({ source: `${schema}.${table}`, text: rows.rows.map((r) => r.j).join('\n') })
    }
    return out
  })
}

/** Resolves once `manager` runs no session (event-driven). */
export function whenIdle(manager: SessionManager): Promise<void> {
  const idle = (): boolean => manager.getActiveListenerCount() + manager.getActiveDialerCount() === 0
  if (idle()) return Promise.resolve()
  return new Promise((resolve) => {
    const onEvent = (evt: CustomEvent<SessionEvent>): void => {
      if (isTerminalState(evt.detail.state) && idle()) {
        manager.removeEventListener('session', onEvent)
        resolve()
      }
    }
    manager.addEventListener('session', onEvent)
  })
}

/** How a raw exchange ended on the client side. */
export type RawEnd = 'eof' | 'reset' | 'hang'

/** What a raw client saw. */
export interface RawOutcome {
  /** Every byte A sent on the stream. */
  received: Uint8Array
  /** A's frames, decoded as JSON where possible. */
  frames: Array<Record<string, unknown>>
  end: RawEnd
}

/** Options of rawSend. */
export interface RawSendOptions {
  /** Close our writing side after sending (a half-close). Default true. */
  halfClose?: boolean
  /** Give up (end 'hang') after this long: a guard against a hung test, never an assertion on time. */
  guardMs?: number
}

/**
 * Opens one bootstrap stream from `from` to `addr`, sends `chunks` as raw bytes (no framing added) and
 * collects everything A sends until A ends the stream.
 */
export async function rawSend(
  from: Libp2p,
  addr: string,
  chunks: Uint8Array[],
  options: RawSendOptions = {}
): Promise<RawOutcome> {
  const stream = await from.dialProtocol(multiaddr(addr), PROTOCOL_ID, { maxOutboundStreams: 4096 })
  const reading = collect(stream, options.guardMs ?? 20_000)
  for (const chunk of chunks) {
    if (stream.status !== 'open') break
    // do not wait for drain: A may refuse a huge frame before reading it, and must not be able to stall us
    stream.send(chunk)
  }
  if (options.halfClose !== false && stream.status === 'open') void stream.close().catch(() => {})
  const { received, end } = await reading
  if (stream.status === 'open' || stream.status === 'closing') stream.abort(new Error('done'))
  return { received, frames: decodeFrames(received), end }
}

async function collect(stream: Stream, guardMs: number): Promise<{ received: Uint8Array; end: RawEnd }> {
  const parts: Uint8Array[] = []
  let end = 'eof' as RawEnd
  const guard = setTimeout(() => {
    end = 'hang'
    stream.abort(new Error('guard'))
  }, guardMs)
  try {
    for await (const chunk of stream) parts.push(chunk.subarray())
  } catch {
    if (end !== 'hang') end = 'reset'
  } finally {
    clearTimeout(guard)
  }
  if (end === 'eof' && (stream.status === 'reset' || stream.status === 'aborted')) end = 'reset'
  return { received: concat(parts), end }
}

/** Splits bytes into unsigned-varint length-prefixed frames and JSON-decodes each (best effort). */
export function decodeFrames(bytes: Uint8Array): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  let pos = 0
  while (pos < bytes.length) {
    let len = 0
    let shift = 0
    let b: number
    do {
      if (pos >= bytes.length) return out
      b = bytes[pos++]!
      len += (b & 0x7f) * 2 ** shift
      shift += 7
    } while (b & 0x80)
    if (pos + len > bytes.length) return out
    try {
      out.push(
        JSON.parse(new TextDecoder().decode(bytes.subarray(pos, pos + len))) as Record<string, unknown>
      )
    } catch {
      out.push({ undecodable: true })
    }
    pos += len
  }
  return out
}

/** Unsigned varint of `n`. */
export function varint(n: number): Uint8Array {
  const out: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return Uint8Array.from(out)
}

/** One frame: varint length + body (a string is UTF-8 encoded as is; anything else JSON-encoded). */
export function frame(body: unknown): Uint8Array {
  const bytes =
    body instanceof Uint8Array
      ? body
      : new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body))
  return concat([varint(bytes.length), bytes])
}

/** Concatenation of byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(total)
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** True when `haystack` (bytes or text) contains `needle` as UTF-8. */
export function containsText(haystack: Uint8Array | string, needle: string): boolean {
  const text = typeof haystack === 'string' ? haystack : Buffer.from(haystack).toString('latin1')
  const probe = typeof haystack === 'string' ? needle : Buffer.from(needle, 'utf8').toString('latin1')
  return text.includes(probe)
}

/** Collects the secrets a test used and every text it produced; `leaks()` lists secret ⇄ source hits. */
export class SecretWatch {
  readonly secrets = new Set<string>()
  readonly texts: Array<{ source: string; text: string }> = []

  secret(value: string): string {
    if (value.length >= 8) this.secrets.add(value)
    return value
  }

  text(source: string, text: string): void {
    this.texts.push({ source, text })
  }

  /** Every error's name, message, stack and cause chain. */
  error(source: string, err: unknown): void {
    let e: unknown = err
    for (let depth = 0; e != null && depth < 8; depth++) {
      const x = e as { name?: unknown; message?: unknown; stack?: unknown; cause?: unknown }
      this.text(source, `${String(x.name)} ${String(x.message)} ${String(x.stack)}`)
      e = x.cause
    }
  }

  /**
   * Adds what `A`'s store keeps: its folder's files (lowdb), or its schema's rows and its folder
   * (PostgreSQL). Call after the store closed, so everything is written.
   */
  async store(A: StoreListener): Promise<void> {
    await this.folder(A.dir)
    if (A.kind === 'postgres')
      for (const t of await schemaTexts(pgStoreOf(A).schema)) this.text(t.source, t.text)
  }

  /** Adds every file of `dir` except the files that hold secrets by design (noted in docs/reliability.md). */
  async folder(dir: string, except: readonly string[] = SECRET_FILES): Promise<void> {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (except.includes(name)) continue
      const text = await readFile(join(dir, name), 'utf8').catch(() => '')
      this.text(`${dir}/${name}`, text)
    }
  }

  leaks(): string[] {
    const hits: string[] = []
    for (const s of this.secrets)
      for (const t of this.texts)
        if (t.text.includes(s)) hits.push(`${t.source} holds a secret (${s.length} chars)`)
    return hits
  }
}

/**
 * Files that hold a secret on purpose: the node secret, the peer key, the local API secret, the saved
 * PostgreSQL password (all 0600), and tallies.jsonl, whose dbConnectionInfo.credentials are the tally's
 * own database credentials.
 */
export const SECRET_FILES = [
  'secret',
  'peer.key',
  'api-secret',
  'store-password',
  'tallies.jsonl',
  '.lock'
] as const

/** A real garbage collector: --expose-gc when given, else enabled at run time. */
export function gc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc
  if (typeof existing === 'function') return existing
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

/** Dialer nodes on 127.0.0.1 (no listen address needed for dialling, but harmless). */
export async function dialerNodes(n: number): Promise<Libp2p[]> {
  return Promise.all(Array.from({ length: n }, () => createTaleusNode()))
}
