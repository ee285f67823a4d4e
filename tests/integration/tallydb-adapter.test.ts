/**
 * automerge-repo's own network adapter acceptance tests (shipped in the package) run against our
 * libp2p-stream adapter: three real libp2p nodes on 127.0.0.1, open access (the test suite's repos use
 * made-up peer ids and share every document).
 */
// the full build loads Automerge's WebAssembly (the suite imports the slim build)
import '@automerge/automerge'
import { runNetworkAdapterTests } from '@automerge/automerge-repo/helpers/tests/network-adapter-tests.js'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createTaleusNode } from '../../main/node/index.ts'
import { Libp2pNetworkAdapter } from '../../main/tallydb/libp2p-adapter.ts'

function addrOf(node: Libp2p): ReturnType<typeof multiaddr> {
  const ma = node.getMultiaddrs()[0]
  if (ma === undefined) throw new Error('node has no address')
  return ma
}

runNetworkAdapterTests(async () => {
  const nodes = await Promise.all([createTaleusNode(), createTaleusNode(), createTaleusNode()])
  const [a, b, c] = nodes as [Libp2p, Libp2p, Libp2p]
  // a dials b and c, b dials c: one channel per pair
  const adapters = [
    new Libp2pNetworkAdapter(a, { openAccess: true, dialPeers: [addrOf(b), addrOf(c)] }),
    new Libp2pNetworkAdapter(b, { openAccess: true, dialPeers: [addrOf(c)] }),
    new Libp2pNetworkAdapter(c, { openAccess: true })
  ] as const
  await Promise.all(adapters.map(async (x) => x.start()))
  // the suite gives a new channel 50 ms before it syncs, too little on a loaded machine: open the streams
  // ahead of it (connect() then only says hello on them)
  await Promise.all([
    adapters[0].channelTo(addrOf(b)),
    adapters[0].channelTo(addrOf(c)),
    adapters[1].channelTo(addrOf(c))
  ])
  return {
    adapters: [adapters[0], adapters[1], adapters[2]],
    teardown: () => {
      for (const x of adapters) void x.stop()
      for (const n of nodes) void n.stop()
    }
  }
}, 'libp2p streams')
