import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { lpStream } from '@libp2p/utils'
import type { Libp2p } from '@libp2p/interface'
import { createTaleusNode } from '../../main/node/index.ts'
import { socketWrites, stockNode } from '../helpers/wire-nodes.ts'

const ECHO = '/taleus-test/wire-echo/1.0.0'
/** A fresh guard against hangs per call (never a timed assertion). */
const guard = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(60_000) })

/** Reads one frame, answers it, closes: the shape of a refused contact. */
async function serveEcho(node: Libp2p): Promise<void> {
  await node.handle(
    ECHO,
    async (stream) => {
      const lp = lpStream(stream, { maxDataLength: 8 * 2 ** 20 })
      await lp.write(await lp.read())
      await stream.close()
    },
    { maxInboundStreams: 256 }
  )
}

async function echo(from: Libp2p, to: Libp2p, bytes: Uint8Array): Promise<Uint8Array> {
  const options = guard()
  const stream = await from.dialProtocol(to.getMultiaddrs()[0]!, ECHO, {
    ...options,
    maxOutboundStreams: 256
  })
  const lp = lpStream(stream, { maxDataLength: 8 * 2 ** 20 })
  await lp.write(bytes, options)
  const reply = (await lp.read(options)).subarray()
  await stream.close(options)
  return reply
}

describe('wire: coalesced sends and lazy window updates', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => {
    await Promise.allSettled(nodes.splice(0).map((n) => n.stop()))
  })

  it('answers a small request on an open connection with one socket write (stock: ~12)', async () => {
    const listener = await createTaleusNode()
    const dialer = await createTaleusNode({ listen: [] })
    nodes.push(listener, dialer)
    await serveEcho(listener)
    await echo(dialer, listener, new Uint8Array(300))
    const rounds = 10
    const writes = (
      await socketWrites(listener, async () => {
        for (let i = 0; i < rounds; i++) await echo(dialer, listener, new Uint8Array(300))
      })
    ).listener
    // one message per turn of the event loop that answers: multistream + the reply + FIN
    expect(writes / rounds).toBeLessThanOrEqual(2)
  })

  it('answers a fresh connection (handshake and all) with a handful of socket writes (stock: ~24)', async () => {
    const listener = await createTaleusNode()
    nodes.push(listener)
    await serveEcho(listener)
    const dialers = await Promise.all(Array.from({ length: 5 }, () => createTaleusNode({ listen: [] })))
    nodes.push(...dialers)
    const writes = (
      await socketWrites(listener, async () => {
        for (const dialer of dialers) await echo(dialer, listener, new Uint8Array(300))
      })
    ).listener
    // the encrypter's multistream (1: both lines, 2 without coalescing), the Noise handshake (1), the
    // stream's multistream (1), the answer with its close (1)
    expect(writes / dialers.length).toBeLessThanOrEqual(4)
  })

  it('moves megabytes both ways, with many streams at once, between Taleus and stock nodes', async () => {
    const taleus = await createTaleusNode()
    const stock = await stockNode()
    const other = await createTaleusNode()
    nodes.push(taleus, stock, other)
    await Promise.all([serveEcho(taleus), serveEcho(stock), serveEcho(other)])
    // several windows (256 KiB) per stream: the window must still be topped up in time
    const big = new Uint8Array(randomBytes(3 * 2 ** 20))
    for (const [from, to] of [
      [taleus, stock],
      [stock, taleus],
      [taleus, other]
    ] as const) {
      expect(Buffer.from(await echo(from, to, big)).equals(Buffer.from(big))).toBe(true)
      const small = Array.from({ length: 50 }, (_, i) => new Uint8Array(randomBytes(100 + i * 97)))
      const replies = await Promise.all(small.map((bytes) => echo(from, to, bytes)))
      replies.forEach((reply, i) => expect(Buffer.from(reply).equals(Buffer.from(small[i]!))).toBe(true))
    }
  })

  it('delivers what was sent just before the connection closes', async () => {
    const listener = await createTaleusNode()
    const dialer = await createTaleusNode({ listen: [] })
    nodes.push(listener, dialer)
    const reply = new Uint8Array(randomBytes(5000))
    await listener.handle(ECHO, async (stream, connection) => {
      const lp = lpStream(stream)
      await lp.read()
      await lp.write(reply)
      // closes the connection in the same turn: the queued frames must still go out first
      await connection.close()
    })
    const options = guard()
    const stream = await dialer.dialProtocol(listener.getMultiaddrs()[0]!, ECHO, options)
    const lp = lpStream(stream)
    await lp.write(new Uint8Array(10), options)
    expect(Buffer.from((await lp.read(options)).subarray()).equals(Buffer.from(reply))).toBe(true)
  })
})
