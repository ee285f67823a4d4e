import { afterEach, describe, expect, it } from 'vitest'
import { lpStream } from '@libp2p/utils'
import type { Libp2p } from '@libp2p/interface'
import { createTaleusNode } from '../../main/node/index.ts'

const PING = '/taleus-test/fast-paths/1.0.0'
const OTHER = '/taleus-test/fast-paths-other/1.0.0'

/** A fresh guard against hangs per call (never a timed assertion). */
const guard = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(30_000) })

async function serve(node: Libp2p, protocol: string): Promise<void> {
  await node.handle(protocol, async (stream) => {
    const lp = lpStream(stream)
    await lp.write(await lp.read())
    await stream.close()
  })
}

async function roundTrip(from: Libp2p, to: Libp2p, protocol = PING): Promise<void> {
  const options = guard()
  const stream = await from.dialProtocol(to.getMultiaddrs()[0]!, protocol, options)
  const lp = lpStream(stream)
  await lp.write(new Uint8Array(8), options)
  await lp.read(options)
  await stream.close(options)
}

/** Counts the peer-store writes of `node` (its datastore's puts). */
function countPuts(node: Libp2p): { readonly puts: number } {
  const datastore = (node as unknown as { components: { datastore: { put: (...a: unknown[]) => unknown } } })
    .components.datastore
  const counter = { puts: 0 }
  const put = datastore.put.bind(datastore)
  datastore.put = (...args: unknown[]) => {
    counter.puts++
    return put(...args)
  }
  return counter
}

describe('fast paths: peer-store merges and the connection table', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => {
    await Promise.allSettled(nodes.splice(0).map((n) => n.stop()))
  })

  it('by default keeps no peer-store record of a peer for its streams, and still records its own protocols', async () => {
    const listener = await createTaleusNode()
    const dialer = await createTaleusNode({ listen: [] })
    nodes.push(listener, dialer)
    await serve(listener, PING)
    const counter = countPuts(listener)
    // stock libp2p: one write per stream (21), and a record of the customer kept for hours
    for (let i = 0; i < 21; i++) await roundTrip(dialer, listener)
    expect(counter.puts).toBe(0)
    await expect(listener.peerStore.get(dialer.peerId)).rejects.toHaveProperty('name', 'NotFoundError')
    expect((await listener.peerStore.get(listener.peerId)).protocols).toContain(PING)
    // a merge with more than protocols (identify, discovery) is written as before
    await listener.peerStore.merge(dialer.peerId, {
      protocols: [PING],
      metadata: { seen: new Uint8Array([1]) }
    })
    expect((await listener.peerStore.get(dialer.peerId)).protocols).toContain(PING)
  })

  it('writes the peer store once per protocol of a connected peer, not once per stream, when asked to record', async () => {
    const listener = await createTaleusNode({ recordStreamProtocols: true })
    const dialer = await createTaleusNode({ listen: [] })
    nodes.push(listener, dialer)
    await serve(listener, PING)
    await serve(listener, OTHER)
    await roundTrip(dialer, listener)
    const counter = countPuts(listener)
    for (let i = 0; i < 20; i++) await roundTrip(dialer, listener)
    // stock libp2p: one write per stream (20)
    expect(counter.puts).toBe(0)
    // a new protocol is still recorded
    await roundTrip(dialer, listener, OTHER)
    expect(counter.puts).toBe(1)
    const peer = await listener.peerStore.get(dialer.peerId)
    expect(peer.protocols).toEqual(expect.arrayContaining([PING, OTHER]))
  })

  it('records the protocol again after the peer was changed or deleted', async () => {
    const listener = await createTaleusNode({ recordStreamProtocols: true })
    const dialer = await createTaleusNode({ listen: [] })
    nodes.push(listener, dialer)
    await serve(listener, PING)
    await roundTrip(dialer, listener)
    await listener.peerStore.patch(dialer.peerId, { protocols: [] })
    await roundTrip(dialer, listener)
    expect((await listener.peerStore.get(dialer.peerId)).protocols).toContain(PING)
    await listener.peerStore.delete(dialer.peerId)
    await roundTrip(dialer, listener)
    expect((await listener.peerStore.get(dialer.peerId)).protocols).toContain(PING)
  })

  it('lists every open connection, and those of one peer', async () => {
    const listener = await createTaleusNode()
    nodes.push(listener)
    const dialers = await Promise.all(Array.from({ length: 4 }, () => createTaleusNode({ listen: [] })))
    nodes.push(...dialers)
    await Promise.all(dialers.map((d) => d.dial(listener.getMultiaddrs()[0]!, guard())))
    // the dialer's side may be up a moment before the listener's
    await expect.poll(() => listener.getConnections().length, { timeout: 20_000 }).toBe(4)
    const all = listener.getConnections()
    expect(new Set(all.map((c) => c.remotePeer.toString()))).toEqual(
      new Set(dialers.map((d) => d.peerId.toString()))
    )
    expect(listener.getConnections(dialers[0]!.peerId)).toHaveLength(1)
    await dialers[0]!.stop()
    await expect.poll(() => listener.getConnections().length, { timeout: 20_000 }).toBe(3)
  })
})
