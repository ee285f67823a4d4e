/**
 * Real parts for end-to-end bootstrap tests: libp2p nodes on 127.0.0.1, each with a lowdb store in its
 * own temp folder and a SessionManager on the store's hooks. A World tracks what it started so one
 * `close()` in afterEach tears everything down (managers, nodes, stores, folders) even after a failure.
 *
 * With TALEUS_TEST_STORE=postgres (and TALEUS_TEST_PG) every listener (the merchant) gets a PostgreSQL
 * store instead, on a schema of its own (the same one again when a test restarts it on its folder), so the
 * same suites run on both stores; tallyOnDisk then reads the committed row. Dialers (customers) keep
 * lowdb: fifty customers with a connection pool each would exceed the server's connections.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import pg from 'pg'
import { SessionManager, formatLink, parseLink } from '../../main/bootstrap/index.ts'
import type {
  BootstrapLink,
  SessionEvent,
  SessionHooks,
  SessionManagerInit
} from '../../main/bootstrap/index.ts'
import { createTaleusNode, type TaleusNodeInit } from '../../main/node/index.ts'
import { openStore } from '../../main/store/index.ts'
import { openPgStore } from '../../main/store/pg/index.ts'
import { TEST_PG, dropSchemas, freshSchema } from './stores.ts'
import type { LowdbMerchantStore, StoreInit } from '../../main/store/index.ts'
import type { CreateTokenInput, TallyView, TokenView } from '../../preload/contract.ts'

/** Options of one party (listener or dialer). */
export interface PartyInit {
  /** SessionManager config; short defaults (step 2 s, session 10 s) keep failures fast. */
  config?: SessionManagerInit
  /** Replace or wrap the store's hooks (fault injection). */
  wrapHooks?: (hooks: SessionHooks) => SessionHooks
  /** Store options; `now` defaults to the party's adjustable clock. */
  store?: Omit<StoreInit, 'now'>
  /** Reuse this data folder (restart tests); a fresh temp folder otherwise. */
  dataDir?: string
  /** Options of the party's libp2p node. */
  node?: TaleusNodeInit
}

/** One running party: node + store + manager on the store's hooks. */
export interface Party {
  readonly dir: string
  readonly node: Libp2p
  readonly store: LowdbMerchantStore
  readonly manager: SessionManager
  readonly peerId: string
  /** Every SessionEvent the manager emitted, in order. */
  readonly events: SessionEvent[]
  /** The store's clock runs this far ahead of the real one (expiry tests). */
  skewMs: number
  /** This node's dialable addresses, each ending in /p2p/<peerId>. */
  addrs(): string[]
  /** Creates a token on this party's store and the link to it, through the link's text form. */
  createToken(input: CreateTokenInput): Promise<{ view: TokenView; token: string; link: BootstrapLink }>
  /** Stops the manager and the node, closes the store; keeps the folder. Idempotent. */
  stop(): Promise<void>
}

/** True when the suites run on the PostgreSQL store (TALEUS_TEST_STORE=postgres and a server). */
export const ON_POSTGRES = process.env.TALEUS_TEST_STORE === 'postgres' && TEST_PG !== undefined

/** The schema of each party's folder, so a restart on the folder finds its store again. */
const schemaOfDir = new Map<string, string>()

/** The store of a party's folder: lowdb, or PostgreSQL in postgres mode. */
async function openPartyStore(dir: string, init: StoreInit, listen: boolean): Promise<LowdbMerchantStore> {
  if (!ON_POSTGRES || (!listen && !schemaOfDir.has(dir))) return openStore(dir, init)
  let schema = schemaOfDir.get(dir)
  if (schema === undefined) {
    schema = freshSchema()
    schemaOfDir.set(dir, schema)
  }
  const store = await openPgStore({
    url: TEST_PG as string,
    dataDir: dir,
    schema,
    auditFlushMs: 10,
    ...(init.now === undefined ? {} : { now: init.now })
  })
  // the suites call only what both stores have
  return store as unknown as LowdbMerchantStore
}

/** Fast defaults for tests; each case overrides what it exercises. */
export const TEST_CONFIG = { stepTimeoutMs: 2000, sessionTimeoutMs: 10_000 } as const

/** Tracks every party and folder of one test, for a single teardown. */
export class World {
  private readonly parties: Party[] = []
  private readonly dirs = new Set<string>()

  /** Starts a party whose manager handles the bootstrap protocol (A). */
  async listener(init: PartyInit = {}): Promise<Party> {
    return this.party(init, true)
  }

  /** Starts `n` parties that only dial (B, customers), in parallel. */
  async dialers(n: number, init: PartyInit = {}): Promise<Party[]> {
    return Promise.all(Array.from({ length: n }, async () => this.party(init, false)))
  }

  /** A fresh temp folder, removed by close(). */
  async tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'taleus-e2e-'))
    this.dirs.add(dir)
    return dir
  }

  /** Stops every party and removes every folder. */
  async close(): Promise<void> {
    await Promise.allSettled(this.parties.splice(0).map(async (p) => p.stop()))
    await Promise.allSettled([...this.dirs].map(async (d) => rm(d, { recursive: true, force: true })))
    const schemas = [...this.dirs].flatMap((d) => {
      const schema = schemaOfDir.get(d)
      schemaOfDir.delete(d)
      return schema === undefined ? [] : [schema]
    })
    if (ON_POSTGRES) await dropSchemas(TEST_PG as string, schemas).catch(() => {})
    this.dirs.clear()
  }

  private async party(init: PartyInit, listen: boolean): Promise<Party> {
    const dir = init.dataDir ?? (await this.tempDir())
    let skewMs = 0
    const store = await openPartyStore(dir, { ...init.store, now: () => Date.now() + skewMs }, listen)
    const node = await createTaleusNode(init.node)
    const peerId = node.peerId.toString()
    const addrs = (): string[] =>
      node.getMultiaddrs().map((ma) => {
        const text = ma.toString()
        return text.endsWith(`/p2p/${peerId}`) ? text : `${text}/p2p/${peerId}`
      })
    const storeHooks = store.hooks({ peerId, multiaddrs: addrs })
    const hooks = init.wrapHooks?.(storeHooks) ?? storeHooks
    const manager = new SessionManager(hooks, {
      ...TEST_CONFIG,
      cadrePeerAddrs: addrs,
      localPeerId: peerId,
      ...init.config
    })
    const events: SessionEvent[] = []
    manager.addEventListener('session', (evt) => events.push(evt.detail))
    if (listen) await manager.start(node)
    let stopping: Promise<void> | undefined
    const party: Party = {
      dir,
      node,
      store,
      manager,
      peerId,
      events,
      get skewMs() {
        return skewMs
      },
      set skewMs(value: number) {
        skewMs = value
      },
      addrs,
      async createToken(input) {
        const { view, token } = await store.createToken(input)
        const link: BootstrapLink = {
          token,
          role: view.role,
          responderPeerAddrs: addrs(),
          ...(view.expiresAt === null ? {} : { tokenExpiryUtc: new Date(view.expiresAt).toISOString() }),
          ...(view.identityRequirements.length === 0
            ? {}
            : { identityRequirements: view.identityRequirements }),
          ...(view.approval === 'operator' ? { approvalTimeoutMs: view.approvalTimeoutMs } : {})
        }
        return { view, token, link: parseLink(formatLink(link)) }
      },
      stop() {
        stopping ??= (async () => {
          await manager.stop()
          await node.stop()
          await store.close()
        })()
        return stopping
      }
    }
    this.parties.push(party)
    return party
  }
}

/**
 * Polls until every manager runs no session (bounded: `timeoutMs`), then asserts it. Counts drop when
 * a terminal event is emitted, so they may trail the promise that reported the outcome.
 */
export async function expectIdle(managers: SessionManager[], timeoutMs = 10_000): Promise<void> {
  const active = (): number =>
    managers.reduce((n, m) => n + m.getActiveListenerCount() + m.getActiveDialerCount(), 0)
  const until = Date.now() + timeoutMs
  while (active() > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
  for (const m of managers) {
    if (m.getActiveListenerCount() !== 0 || m.getActiveDialerCount() !== 0) {
      throw new Error(
        `sessions still active: ${m.getActiveListenerCount()} listener(s), ${m.getActiveDialerCount()} dialer(s)`
      )
    }
  }
}

/** Polls `read` (sync or async) until it gives a value other than undefined (bounded), then returns it. */
export async function eventually<T>(
  read: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000
): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (value !== undefined) return value
    if (Date.now() >= until) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The last terminal event of each session of `party`, by session id. */
export function terminalEvents(party: Party): Map<string, SessionEvent> {
  const out = new Map<string, SessionEvent>()
  for (const e of party.events) if (/_(DONE|FAILED|TIMEOUT)$/.test(e.state)) out.set(e.sessionId, e)
  return out
}

/** Waits (bounded) for `count` finished sessions on `party` and returns their terminal events. */
export async function finished(party: Party, count: number, timeoutMs = 20_000): Promise<SessionEvent[]> {
  return eventually(() => {
    const ends = [...terminalEvents(party).values()]
    return ends.length >= count ? ends : undefined
  }, timeoutMs)
}

/** A tally's latest record as written in `dir`/tallies.jsonl (the file, not the store's memory). */
export async function tallyOnDisk(dir: string, tallyId: string): Promise<TallyView | undefined> {
  const schema = schemaOfDir.get(dir)
  if (ON_POSTGRES && schema !== undefined) return tallyInTable(schema, tallyId)
  const text = await readFile(join(dir, 'tallies.jsonl'), 'utf8')
  let found: TallyView | undefined
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const record = JSON.parse(line) as TallyView
    if (record.tallyId === tallyId) found = record
  }
  return found
}

/** Resolves `promise` into `{ value }` or `{ error }` (with the error's name and reason). */
export async function outcome<T>(
  promise: Promise<T>
): Promise<{ value?: T; error?: Error & { reason?: string } }> {
  try {
    return { value: await promise }
  } catch (error) {
    return { error: error as Error & { reason?: string } }
  }
}

/** A promise with its resolve exposed, to hold a hook until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

/** A tally as committed in `schema`'s table (postgres mode's tallyOnDisk). */
async function tallyInTable(schema: string, tallyId: string): Promise<TallyView | undefined> {
  const client = new pg.Client({ connectionString: TEST_PG, options: `-c search_path=${schema}` })
  await client.connect()
  try {
    const res = await client.query<{ status: TallyView['status']; record: TallyView }>(
      'SELECT status, record FROM tallies WHERE tally_id = $1',
      [tallyId]
    )
    const row = res.rows[0]
    return row === undefined ? undefined : { ...row.record, status: row.status }
  } finally {
    await client.end()
  }
}
