/**
 * A returning customer's node reopens its documents at the merchant while it dials the merchant's link:
 * two dials to one peer at once. libp2p merges them, so the document channel must not dial the bare
 * PeerId (nothing in the peer store: NoValidAddressesError, which the merged dial by address then shared).
 */
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { createTaleusNode } from '../../main/node/index.ts'
import { Libp2pNetworkAdapter, TALLYDB_PROTOCOL } from '../../main/tallydb/libp2p-adapter.ts'

describe('document channel and another dial to the same peer at once', () => {
  const nodes: Libp2p[] = []
  const adapters: Libp2pNetworkAdapter[] = []
  afterEach(async () => {
    await Promise.allSettled(adapters.splice(0).map(async (x) => x.stop()))
    await Promise.allSettled(nodes.splice(0).map(async (n) => n.stop()))
  })

  it('both succeed: the channel dials the addresses it was given, not the bare peer id', async () => {
    const merchant = await createTaleusNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(merchant)
    const served = new Libp2pNetworkAdapter(merchant, { openAccess: true })
    adapters.push(served)
    await served.start()
    const addr = merchant.getMultiaddrs()[0]!
    for (let round = 0; round < 5; round++) {
      const customer = await createTaleusNode()
      nodes.push(customer)
      const adapter = new Libp2pNetworkAdapter(customer, { openAccess: true })
      adapters.push(adapter)
      await adapter.start()
      const [channel, stream] = await Promise.allSettled([
        adapter.channelTo(peerIdFromString(merchant.peerId.toString()), [addr]),
        customer.dialProtocol(addr, TALLYDB_PROTOCOL)
      ])
      expect(channel.status, `round ${round}`).toBe('fulfilled')
      expect(
        stream.status,
        `round ${round}: ${stream.status === 'rejected' ? String(stream.reason) : ''}`
      ).toBe('fulfilled')
      if (stream.status === 'fulfilled') await stream.value.close()
    }
  })
})
