/**
 * The merchant's signed peer record as a stock wallet sees it through identify: valid, certifying the
 * addresses announced, sealed once per set of addresses (not per request), resealed with a higher
 * sequence number when the addresses change. Real nodes on 127.0.0.1.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import '../../main/bootstrap/polyfill.ts'
import { identify } from '@libp2p/identify'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { CODE_P2P, multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Connection, Libp2p } from '@libp2p/interface'
import type { Identify } from '@libp2p/identify'
import { createTaleusNode } from '../../main/node/index.ts'
import type { SelfRecord } from '../../main/node/self-record.ts'

const nodes: Libp2p[] = []

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

/** A wallet on stock libp2p: identify runs on every new connection, as by default. */
async function stockWallet(): Promise<Libp2p<{ identify: Identify }>> {
  const node = await createLibp2p({
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
  nodes.push(node)
  return node
}

async function merchant(init: { cachePeerRecord?: boolean } = {}): Promise<Libp2p> {
  const node = await createTaleusNode(init)
  nodes.push(node)
  return node
}

/**
 * Asks the merchant's identify over `conn`: the sequence number of the record in the answer, and the
 * record the wallet's peer store kept (opened and its signature checked again here).
 */
async function recordOf(
  wallet: Libp2p<{ identify: Identify }>,
  conn: Connection
): Promise<{ seq: bigint; record: PeerRecord }> {
  const result = await wallet.services.identify.identify(conn)
  expect(result.signedPeerRecord).toBeDefined()
  const peer = await wallet.peerStore.get(conn.remotePeer)
  const envelope = await RecordEnvelope.openAndCertify(peer.peerRecordEnvelope!, PeerRecord.DOMAIN)
  return { seq: result.signedPeerRecord!.seq, record: PeerRecord.createFromProtobuf(envelope.payload) }
}

/** Dials the merchant and waits for the identify the wallet runs on the new connection. */
async function connect(wallet: Libp2p<{ identify: Identify }>, a: Libp2p): Promise<Connection> {
  const identified = new Promise<void>((resolve) =>
    wallet.addEventListener('peer:identify', () => resolve(), { once: true })
  )
  const conn = await wallet.dial(a.getMultiaddrs()[0]!)
  await identified
  return conn
}

function announced(node: Libp2p): string[] {
  return node.getMultiaddrs().map((ma) => ma.decapsulateCode(CODE_P2P).toString())
}

/** A merchant whose record is sealed (once it listens, before anyone asks), and its service. */
async function sealedMerchant(): Promise<{ a: Libp2p; service: SelfRecord }> {
  const a = await merchant()
  const service = (a.services as { selfRecord: SelfRecord }).selfRecord
  await vi.waitFor(() => expect(service.sealed).toBe(1))
  return { a, service }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('the merchant’s signed peer record', () => {
  it('certifies the addresses identify announces, and is sealed once for many requests', async () => {
    const { a, service } = await sealedMerchant()
    const wallet = await stockWallet()
    const conn = await connect(wallet, a)
    const first = await recordOf(wallet, conn)
    expect(first.record.peerId.equals(a.peerId)).toBe(true)
    expect(first.record.multiaddrs.map(String)).toEqual(announced(a))

    // a second wallet, and the first one again later: the same record, not a fresh seal each time
    const other = await stockWallet()
    const otherConn = await connect(other, a)
    await sleep(5)
    const again = await recordOf(wallet, conn)
    const seen = await recordOf(other, otherConn)
    expect(again.seq).toBe(first.seq)
    expect(seen.seq).toBe(first.seq)
    expect(service.sealed).toBe(1)
  })

  it('is sealed again, with a higher sequence number and the new address, when the addresses change', async () => {
    const { a, service } = await sealedMerchant()
    const wallet = await stockWallet()
    const conn = await connect(wallet, a)
    const before = await recordOf(wallet, conn)

    // the node starts listening on one more address (a merchant's node that joins another network)
    const components = (
      a as unknown as { components: { transportManager: { listen(addrs: Multiaddr[]): Promise<void> } } }
    ).components
    await components.transportManager.listen([multiaddr('/ip4/127.0.0.1/tcp/0')])
    await vi.waitFor(() => expect(service.sealed).toBe(2))
    const added = announced(a).find((ma) => !before.record.multiaddrs.map(String).includes(ma))
    expect(added).toBeDefined()

    const after = await recordOf(wallet, conn)
    expect(after.seq > before.seq).toBe(true)
    expect(after.record.multiaddrs.map(String)).toContain(added)
    expect(after.record.multiaddrs.map(String)).toEqual(announced(a))
  })

  it('without the cache, identify seals a new record per request (the stock behaviour it replaces)', async () => {
    const a = await merchant({ cachePeerRecord: false })
    expect((a.services as { selfRecord?: SelfRecord }).selfRecord).toBeUndefined()
    const wallet = await stockWallet()
    const conn = await connect(wallet, a)
    const first = await recordOf(wallet, conn)
    await sleep(5)
    const again = await recordOf(wallet, conn)
    expect(again.seq > first.seq).toBe(true)
  })
})
