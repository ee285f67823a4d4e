/**
 * The libp2p adapter says it is ready once the channels it starts with have exchanged hellos, so a repo
 * that asks for a document it does not hold asks those peers too (automerge-repo waits for readiness
 * before asking); a peer that never greets holds it back at most a bounded time.
 */
import type { Libp2p } from '@libp2p/interface'
import type { PeerId as RepoPeerId } from '@automerge/automerge-repo/slim'
import { afterEach, describe, expect, it } from 'vitest'
import { createTaleusNode } from '../../main/node/index.ts'
import { Libp2pNetworkAdapter } from '../../main/tallydb/libp2p-adapter.ts'

const nodes: Libp2p[] = []
const adapters: Libp2pNetworkAdapter[] = []

async function node(): Promise<Libp2p> {
  const n = await createTaleusNode()
  nodes.push(n)
  return n
}

function adapter(n: Libp2p, dialPeers: Libp2p[] = []): Libp2pNetworkAdapter {
  const a = new Libp2pNetworkAdapter(n, {
    openAccess: true,
    dialPeers: dialPeers.map((p) => p.getMultiaddrs()[0]!)
  })
  adapters.push(a)
  return a
}

afterEach(async () => {
  await Promise.all(adapters.splice(0).map(async (a) => a.stop()))
  await Promise.all(nodes.splice(0).map(async (n) => n.stop()))
})

describe('adapter readiness', () => {
  it('is not ready at connect(); ready once the peer it dials has said hello, and that peer is known by then', async () => {
    const [a, b] = [await node(), await node()]
    const bAdapter = adapter(b)
    await bAdapter.start()
    bAdapter.connect('bob' as RepoPeerId)
    const aAdapter = adapter(a, [b])
    const candidates: string[] = []
    aAdapter.on('peer-candidate', ({ peerId }) => candidates.push(peerId))
    aAdapter.connect('alice' as RepoPeerId)
    expect(aAdapter.isReady()).toBe(false)
    await aAdapter.whenReady()
    expect(aAdapter.isReady()).toBe(true)
    expect(candidates).toEqual(['bob'])
  })

  it('a peer that never says hello holds readiness back about a second, not forever', async () => {
    const [a, b] = [await node(), await node()]
    // b handles the protocol but its repo never connects: it never sends a hello
    await adapter(b).start()
    const aAdapter = adapter(a, [b])
    const started = performance.now()
    aAdapter.connect('alice' as RepoPeerId)
    await aAdapter.whenReady()
    const waited = performance.now() - started
    expect(waited).toBeGreaterThanOrEqual(900)
    process.stdout.write(`adapter readiness: a silent peer held it back ${waited.toFixed(0)} ms\n`)
  })

  it('a peer that cannot be dialled does not hold it back', async () => {
    const [a, b] = [await node(), await node()]
    const gone = b.getMultiaddrs()[0]!
    await b.stop()
    const aAdapter = new Libp2pNetworkAdapter(a, { openAccess: true, dialPeers: [gone] })
    adapters.push(aAdapter)
    aAdapter.connect('alice' as RepoPeerId)
    await aAdapter.whenReady()
    expect(aAdapter.isReady()).toBe(true)
  })

  it('with nothing to greet it is ready at once', async () => {
    const aAdapter = adapter(await node())
    aAdapter.connect('alice' as RepoPeerId)
    expect(aAdapter.isReady()).toBe(true)
  })
})
