/**
 * SelfRecord on its own: what it stores in the peer store as our addresses change (real keys and real
 * sealing; the peer store, address list and events stand in for libp2p's).
 */
import { describe, expect, it } from 'vitest'
import '../../main/bootstrap/polyfill.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2pEvents, Peer, PeerData, TypedEventTarget } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { SelfRecord } from '../../main/node/self-record.ts'

async function setup() {
  const privateKey = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(privateKey)
  const patches: PeerData[] = []
  let addrs = ['/ip4/127.0.0.1/tcp/4001']
  const events = new TypedEventEmitter<Libp2pEvents>()
  /** What the stand-in peer store holds for us, its reads, and a gate a read waits at (when set). */
  const store = { protocols: ['/a/1.0.0'], reads: 0, gate: undefined as Promise<void> | undefined }
  const service = new SelfRecord({
    peerId,
    privateKey,
    events: events as unknown as TypedEventTarget<Libp2pEvents>,
    peerStore: {
      patch: async (_id, data) => {
        patches.push(data)
      },
      get: async (id) => {
        store.reads++
        const protocols = [...store.protocols]
        await store.gate
        return { id, addresses: [], protocols, metadata: new Map(), tags: new Map() } as Peer
      }
    },
    addressManager: { getAddresses: () => addrs.map((a) => multiaddr(`${a}/p2p/${peerId.toString()}`)) }
  })
  service.start()
  service.afterStart()
  await service.refresh()
  /** The records stored so far, opened (their signatures checked). */
  const records = async (): Promise<PeerRecord[]> =>
    Promise.all(
      patches.map(async (p) => {
        const envelope = await RecordEnvelope.openAndCertify(p.peerRecordEnvelope!, PeerRecord.DOMAIN)
        return PeerRecord.createFromProtobuf(envelope.payload)
      })
    )
  const setAddrs = (next: string[]): void => {
    addrs = next
  }
  return { service, events, records, setAddrs, store, peerId }
}

describe('SelfRecord', () => {
  it('stores one record per set of addresses, with increasing sequence numbers within one millisecond too', async () => {
    const { service, records, setAddrs } = await setup()
    await service.refresh()
    expect(service.sealed).toBe(1)
    setAddrs(['/ip4/127.0.0.1/tcp/4001', '/ip4/10.0.0.2/tcp/4001'])
    await service.refresh()
    setAddrs(['/ip4/10.0.0.2/tcp/4001'])
    await service.refresh()
    const stored = await records()
    expect(stored.map((r) => r.multiaddrs.map(String))).toEqual([
      ['/ip4/127.0.0.1/tcp/4001'],
      ['/ip4/127.0.0.1/tcp/4001', '/ip4/10.0.0.2/tcp/4001'],
      ['/ip4/10.0.0.2/tcp/4001']
    ])
    expect(stored[1]!.seqNumber > stored[0]!.seqNumber).toBe(true)
    expect(stored[2]!.seqNumber > stored[1]!.seqNumber).toBe(true)
  })

  it('replaces the record with a newer one of no addresses when none is left', async () => {
    const { service, records, setAddrs } = await setup()
    setAddrs([])
    await service.refresh()
    const stored = await records()
    expect(stored).toHaveLength(2)
    expect(stored[1]!.multiaddrs).toEqual([])
    expect(stored[1]!.seqNumber > stored[0]!.seqNumber).toBe(true)
  })

  it('an update while sealing is looked at once that one is stored; events after stop are ignored', async () => {
    const { service, events, records, setAddrs } = await setup()
    setAddrs(['/ip4/10.0.0.3/tcp/4001'])
    const first = service.refresh()
    setAddrs(['/ip4/10.0.0.4/tcp/4001'])
    events.safeDispatchEvent('self:peer:update', { detail: {} as never })
    await first
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect((await records()).at(-1)!.multiaddrs.map(String)).toEqual(['/ip4/10.0.0.4/tcp/4001'])

    service.stop()
    const sealed = service.sealed
    setAddrs(['/ip4/10.0.0.5/tcp/4001'])
    events.safeDispatchEvent('self:peer:update', { detail: {} as never })
    await service.refresh()
    expect(service.sealed).toBe(sealed)
  })

  it('serves our own peer data from memory until a write of it is announced; a read across one is not kept', async () => {
    const { service, events, store, peerId } = await setup()
    const peerStore = (
      service as unknown as { components: { peerStore: { get(id: unknown): Promise<Peer> } } }
    ).components.peerStore
    const first = await peerStore.get(peerId)
    first.protocols.push('/changed-by-a-caller')
    const second = await peerStore.get(peerId)
    expect(store.reads).toBe(1)
    expect(second.protocols).toEqual(['/a/1.0.0'])

    // another peer's data always comes from the store
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    await peerStore.get(other)
    await peerStore.get(other)
    expect(store.reads).toBe(3)

    // a write announced while a read is under way: that read is not kept, the next one reads again
    events.safeDispatchEvent('self:peer:update', { detail: {} as never })
    let open!: () => void
    store.gate = new Promise((resolve) => (open = resolve))
    const during = peerStore.get(peerId)
    store.protocols = ['/a/1.0.0', '/b/1.0.0']
    events.safeDispatchEvent('self:peer:update', { detail: {} as never })
    open()
    store.gate = undefined
    expect((await during).protocols).toEqual(['/a/1.0.0'])
    expect((await peerStore.get(peerId)).protocols).toEqual(['/a/1.0.0', '/b/1.0.0'])
    expect(store.reads).toBe(5)
    await peerStore.get(peerId)
    expect(store.reads).toBe(5)
  })
})
