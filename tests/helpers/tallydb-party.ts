/**
 * A party with the shared tally database (issue I): a libp2p node on 127.0.0.1 whose key lives in the data
 * folder (so a restart keeps its PeerId), a store, a TallyDb in DIR/tallydb attached to the store's hooks, and
 * a SessionManager on those hooks. `restart` reopens the same folder, on the same port when it can.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { SessionManager, formatLink, parseLink } from '../../main/bootstrap/index.ts'
import type { BootstrapLink, SessionManagerInit } from '../../main/bootstrap/index.ts'
import { createTaleusNode, loadOrCreatePrivateKey } from '../../main/node/index.ts'
import { openStore } from '../../main/store/index.ts'
import type { LowdbMerchantStore } from '../../main/store/index.ts'
import { TallyDb } from '../../main/tallydb/index.ts'
import type { CreateTokenInput, TokenView } from '../../preload/contract.ts'
import { TEST_CONFIG } from './bootstrap-world.ts'

/** One running party with its tally database. */
export interface DbParty {
  readonly dir: string
  readonly node: Libp2p
  readonly store: LowdbMerchantStore
  readonly db: TallyDb
  readonly manager: SessionManager
  readonly peerId: string
  addrs(): string[]
  createToken(input: CreateTokenInput): Promise<{ view: TokenView; link: BootstrapLink }>
  stop(): Promise<void>
}

/** Options of a party. */
export interface DbPartyInit {
  /** Handle the bootstrap protocol (A). Default false. */
  listen?: boolean
  /** Listen address. Default 127.0.0.1, any port. */
  listenAddr?: string
  config?: SessionManagerInit
}

/** Tracks parties and folders of one test for a single teardown. */
export class DbWorld {
  private readonly parties = new Set<DbParty>()
  private readonly dirs = new Set<string>()

  async tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'taleus-tallydb-'))
    this.dirs.add(dir)
    return dir
  }

  /** The address each folder's party first listened on, so a restart comes back on the same port. */
  private readonly listenAddrs = new Map<string, string>()

  async party(init: DbPartyInit = {}, dir?: string): Promise<DbParty> {
    const folder = dir ?? (await this.tempDir())
    const listenAddr = init.listenAddr ?? this.listenAddrs.get(folder)
    const party = await startParty(folder, { ...init, ...(listenAddr === undefined ? {} : { listenAddr }) })
    const addr = party.node
      .getMultiaddrs()[0]
      ?.toString()
      .replace(/\/p2p\/.*$/, '')
    if (addr !== undefined && !this.listenAddrs.has(folder)) this.listenAddrs.set(folder, addr)
    this.parties.add(party)
    return party
  }

  /** Stop `party` (if running) and start it again on the same folder (same PeerId) and the same port. */
  async restart(party: DbParty, init: DbPartyInit = {}): Promise<DbParty> {
    await party.stop()
    this.parties.delete(party)
    return this.party(init, party.dir)
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.parties].map(async (p) => p.stop()))
    this.parties.clear()
    await Promise.allSettled([...this.dirs].map(async (d) => rm(d, { recursive: true, force: true })))
    this.dirs.clear()
  }
}

async function startParty(dir: string, init: DbPartyInit): Promise<DbParty> {
  const store = await openStore(dir)
  const privateKey = await loadOrCreatePrivateKey(join(dir, 'peer.key'))
  const node = await createTaleusNode({ privateKey, listen: [init.listenAddr ?? '/ip4/127.0.0.1/tcp/0'] })
  const peerId = node.peerId.toString()
  const addrs = (): string[] =>
    node.getMultiaddrs().map((ma) => {
      const text = ma.toString()
      return text.endsWith(`/p2p/${peerId}`) ? text : `${text}/p2p/${peerId}`
    })
  const db = await TallyDb.open({
    dir: join(dir, 'tallydb'),
    libp2p: node,
    grantKey: store.grantKey(),
    reconnectMs: 0
  })
  store.attachTallyDb(db)
  const manager = new SessionManager(store.hooks({ peerId, multiaddrs: addrs }), {
    ...TEST_CONFIG,
    cadrePeerAddrs: addrs,
    ...init.config
  })
  if (init.listen === true) await manager.start(node)
  await db.start()
  let stopping: Promise<void> | undefined
  return {
    dir,
    node,
    store,
    db,
    manager,
    peerId,
    addrs,
    async createToken(input) {
      const { view, token } = await store.createToken(input)
      const link: BootstrapLink = { token, role: view.role, responderPeerAddrs: addrs() }
      return { view, link: parseLink(formatLink(link)) }
    },
    stop() {
      stopping ??= (async () => {
        await manager.stop()
        store.attachTallyDb(undefined)
        await db.close()
        await node.stop()
        await store.close()
      })()
      return stopping
    }
  }
}

/** Polls `read` until it gives a value other than undefined (bounded: a guard against hangs only). */
export async function until<T>(
  read: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000
): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (value !== undefined) return value
    if (Date.now() >= end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Waits until `party`'s copy of the tally's document holds the proposal (bounded, like until). */
export async function proposalSeen(
  party: DbParty,
  tallyId: string,
  proposalId: string,
  timeoutMs?: number
): Promise<true> {
  return until(async () => {
    const view = await party.db.read(tallyId)
    return view?.document.proposals.some((p) => p.proposalId === proposalId) === true ? true : undefined
  }, timeoutMs)
}
