/**
 * A cadre node with the shared tally database on PostgreSQL, below the console service: the cadre store of
 * one schema, the cadre's one merchant key, a libp2p node on 127.0.0.1, a TallyDb on the store's backend
 * attached to its hooks, and a SessionManager answering the bootstrap. Tests reach its TallyDb directly
 * (revoke, read) where the console offers no command.
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { SessionManager } from '../../main/bootstrap/index.ts'
import { createTaleusNode, loadOrCreatePrivateKey } from '../../main/node/index.ts'
import { openPgStore } from '../../main/store/pg/index.ts'
import type { PgMerchantStore } from '../../main/store/pg/index.ts'
import { cadreLinkAddrs } from '../../main/service/cadre.ts'
import { TallyDb } from '../../main/tallydb/index.ts'
import { TEST_CONFIG } from './bootstrap-world.ts'

/** One running cadre node. */
export interface CadreDbNode {
  readonly dir: string
  readonly store: PgMerchantStore
  readonly node: Libp2p
  readonly db: TallyDb
  readonly peerId: string
  addrs(): string[]
  stop(): Promise<void>
}

/** A fresh data folder for a cadre node. */
export async function cadreDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `taleus-cadredb-${name}-`))
}

/** Start a cadre node `name` on `schema` (its folder `dir` keeps its node name across restarts). */
export async function startCadreDbNode(url: string, schema: string, dir: string): Promise<CadreDbNode> {
  const store = await openPgStore({ url, dataDir: dir, schema, auditFlushMs: 10 })
  try {
    const local = await loadOrCreatePrivateKey(join(dir, 'peer.key'))
    const privateKey = privateKeyFromProtobuf(await store.sharedPeerKey(privateKeyToProtobuf(local)))
    const node = await createTaleusNode({ privateKey, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    const peerId = node.peerId.toString()
    const addrs = (): string[] =>
      node.getMultiaddrs().map((ma) => {
        const text = ma.toString()
        return text.endsWith(`/p2p/${peerId}`) ? text : `${text}/p2p/${peerId}`
      })
    const db = await TallyDb.open({
      dir: join(dir, 'tallydb'),
      backend: await store.tallyBackend(),
      libp2p: node,
      grantKey: store.grantKey(),
      reconnectMs: 0
    })
    store.attachTallyDb(db)
    // a tally's document is served by every node: its dbConnectionInfo lists them (as the console's runtime)
    const serving = (): string[] => cadreLinkAddrs(addrs(), store.cadreAddrs())
    const manager = new SessionManager(store.hooks({ peerId, multiaddrs: serving }), {
      ...TEST_CONFIG,
      cadrePeerAddrs: serving
    })
    await manager.start(node)
    await store.announce(addrs)
    await db.start()
    let stopping: Promise<void> | undefined
    return {
      dir,
      store,
      node,
      db,
      peerId,
      addrs,
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
  } catch (err) {
    await store.close()
    throw err
  }
}
