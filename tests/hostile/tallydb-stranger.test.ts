/**
 * A stranger (or a counterparty) on `/taleus/tallydb/1.0.0`, as an outside review found it: one frame
 * holding a CBOR bignum froze the node (cbor-x builds a BigInt byte by byte: 384 KiB held the event loop
 * 111 s), a stream that never spoke held its connection past the connection guard, a hello's `meta` was
 * kept for good (a stranger's megabytes), and repeated opens of a granted document made the provisioner
 * build a whole snapshot each time. Real libp2p nodes on 127.0.0.1; the attacker writes raw frames.
 */
import '@automerge/automerge'
import { cbor } from '@automerge/automerge-repo/slim'
import type { DocumentId, PeerId as RepoPeerId } from '@automerge/automerge-repo/slim'
import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import { createTaleusNode } from '../../main/node/index.ts'
import { TALLYDB_PROTOCOL, Libp2pNetworkAdapter } from '../../main/tallydb/libp2p-adapter.ts'

const DOC = '4NMNnkMhL8jXrdJ9jamS58PAVdXu' as DocumentId

describe('tallydb channel against a stranger', () => {
  const nodes: Libp2p[] = []
  const adapters: Libp2pNetworkAdapter[] = []
  afterEach(async () => {
    await Promise.all(adapters.splice(0).map(async (a) => a.stop()))
    await Promise.all(nodes.splice(0).map(async (n) => n.stop()))
  })

  /** A serving adapter (its repo "connected") and a stranger's node with a raw stream to it. */
  async function setup(snapshots: { count: number } = { count: 0 }): Promise<{
    adapter: Libp2pNetworkAdapter
    stream: Stream
    candidates: Array<Record<string, unknown>>
    strangerId: string
  }> {
    const a = await createTaleusNode()
    const stranger = await createTaleusNode()
    nodes.push(a, stranger)
    const adapter = new Libp2pNetworkAdapter(a, {
      helloTimeoutMs: 300,
      idleWithoutDocumentMs: 600,
      authorize: async ({ grant }) => (grant === 'right' ? DOC : undefined),
      snapshot: async () => {
        snapshots.count++
        return new Uint8Array(1024)
      }
    })
    adapters.push(adapter)
    const candidates: Array<Record<string, unknown>> = []
    adapter.on('peer-candidate', ({ peerMetadata }) => candidates.push({ ...peerMetadata }))
    await adapter.start()
    adapter.connect(a.peerId.toString() as RepoPeerId)
    const stream = await stranger.dialProtocol(a.getMultiaddrs()[0]!, TALLYDB_PROTOCOL)
    return { adapter, stream, candidates, strangerId: stranger.peerId.toString() }
  }

  /** Resolves once the merchant's side ended the stream (reset or closed). */
  async function ended(stream: Stream): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: 8 << 20 })
    try {
      for (;;) await lp.read()
    } catch {
      // the end we wait for
    }
  }

  it('a frame holding a big CBOR bignum is refused unread: the stream is reset, the node keeps running', async () => {
    const { stream } = await setup()
    const n = 384 * 1024
    const frame = new Uint8Array(6 + n)
    frame.set([0xc2, 0x5a, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255])
    frame.fill(0xff, 6)
    await lpStream(stream, { maxDataLength: 8 << 20 }).write(frame)
    // before the guard this never came back within the test's time: the node's event loop held for minutes
    await ended(stream)
    expect(stream.status).not.toBe('open')
  })

  it('a stream that never says hello is closed after helloTimeoutMs; one that opens nothing, after the idle bound', async () => {
    const silent = await setup()
    await ended(silent.stream)
    expect(silent.stream.status).not.toBe('open')

    const idle = await setup()
    const lp = lpStream(idle.stream)
    await lp.write(cbor.encode({ t: 'hello', peerId: idle.strangerId, meta: {} }))
    // its hello was good (the merchant answers with its own), then it asks for nothing
    expect((cbor.decode((await lp.read()).subarray()) as { t: string }).t).toBe('hello')
    await ended(idle.stream)
    expect(idle.stream.status).not.toBe('open')
  })

  it('a hello with megabytes of meta is announced without it; repeated opens get one snapshot', async () => {
    const snapshots = { count: 0 }
    const { stream, candidates, strangerId } = await setup(snapshots)
    const lp = lpStream(stream, { maxDataLength: 8 << 20 })
    const meta = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, 'x'.repeat(500)]))
    await lp.write(cbor.encode({ t: 'hello', peerId: strangerId, meta }))
    for (let id = 1; id <= 50; id++)
      await lp.write(cbor.encode({ t: 'open', id, tallyId: 't', grant: 'right' }))
    const answers: Array<{ t: string; doc?: Uint8Array }> = []
    while (answers.length < 51) answers.push(cbor.decode((await lp.read()).subarray()))
    expect(candidates).toEqual([{}])
    const opened = answers.filter((f) => f.t === 'opened')
    expect(opened).toHaveLength(50)
    expect(opened.filter((f) => f.doc !== undefined)).toHaveLength(1)
    expect(snapshots.count).toBe(1)
    // on the granted document: its sync messages reach the repo, ephemeral ones (a counter kept per
    // session id for good, in automerge-repo) do not
    const passed: string[] = []
    adapters.at(-1)!.on('message', (m) => passed.push(m.type))
    const merchant = nodes.at(-2)!.peerId.toString()
    const msg = (type: string, extra: Record<string, unknown> = {}): Uint8Array =>
      cbor.encode({
        t: 'msg',
        m: { type, senderId: strangerId, targetId: merchant, documentId: DOC, ...extra }
      })
    for (let i = 0; i < 20; i++)
      await lp.write(msg('ephemeral', { sessionId: `s${i}`, count: 1, data: new Uint8Array(4) }))
    await lp.write(msg('request', { data: new Uint8Array(4) }))
    await expect.poll(() => passed).toEqual(['request'])
  })
})
