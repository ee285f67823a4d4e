/**
 * What the console service does differently on a cadre store (issue J): the store is opened before the
 * node, because the node's key comes from it (every cadre node presents the merchant's one identity),
 * and a link lists the addresses of every live node of the cadre.
 */
import { privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { isPostgresUrl, openPgStore } from '../store/pg/index.ts'
import type { MerchantStore } from '../store/types.ts'
import type { StoreTarget } from './store-setting.ts'

/** The cadre side of a store: its node name, its published addresses and the other nodes' ones. */
export interface CadreSide {
  readonly node: string
  announce(addrs: () => string[]): Promise<void>
  cadreAddrs(): string[][]
}

/** The cadre side of `store`, or undefined for a one-node (lowdb) store. */
export function asCadre(store: MerchantStore | undefined): CadreSide | undefined {
  const s = store as Partial<CadreSide> | undefined
  return s !== undefined && typeof s.node === 'string' && typeof s.cadreAddrs === 'function'
    ? (s as CadreSide)
    : undefined
}

/**
 * Open the cadre store `target` names (resolveStoreTarget: `--store`, TALEUS_STORE or the saved setting)
 * and the key to run with: the cadre's shared key, or `local` when this node is the first. Nothing opened
 * when it names no postgres:// URL.
 */
export async function openCadre(
  target: StoreTarget,
  dataDir: string,
  local: PrivateKey
): Promise<{ key: PrivateKey; store?: MerchantStore }> {
  if (!isPostgresUrl(target.url)) return { key: local }
  const store = await openPgStore({
    url: target.url,
    dataDir,
    ...(target.password === undefined ? {} : { password: target.password })
  })
  try {
    const key = privateKeyFromProtobuf(await store.sharedPeerKey(privateKeyToProtobuf(local)))
    return { key, store }
  } catch (err) {
    await store.close().catch(() => {})
    throw err
  }
}

/** Most addresses of one node in a link when the cadre shares it (the link holds at most 8). */
const PER_NODE = 2

/**
 * The addresses of a link: this node's first (LAN before loopback: a phone cannot reach our loopback),
 * then the other nodes', node by node, so a dialer that cannot reach us fails over to another node.
 */
export function cadreLinkAddrs(own: string[], others: string[][]): string[] {
  const lanFirst = (addrs: string[]): string[] =>
    [...addrs].sort((a, b) => Number(isLoopbackAddr(a)) - Number(isLoopbackAddr(b)))
  if (others.length === 0) return lanFirst(own)
  const out = lanFirst(own).slice(0, PER_NODE)
  for (const addrs of others) out.push(...lanFirst(addrs).slice(0, PER_NODE))
  return [...new Set(out)]
}

function isLoopbackAddr(addr: string): boolean {
  return addr.startsWith('/ip4/127.') || addr.startsWith('/ip6/::1/')
}
