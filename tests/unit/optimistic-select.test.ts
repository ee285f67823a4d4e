import { afterEach, describe, expect, it } from 'vitest'
import { lpStream, streamPair } from '@libp2p/utils'
import { handle } from '@libp2p/multistream-select'
import type { Libp2p } from '@libp2p/interface'
import { createTaleusNode } from '../../main/node/index.ts'
import { selectOptimistically, selectProposal } from '../../main/node/optimistic-select.ts'
import { socketWrites, stockNode } from '../helpers/wire-nodes.ts'

const ECHO = '/taleus-test/optimistic-echo/1.0.0'
const OTHER = '/taleus-test/optimistic-other/1.0.0'
/** A fresh guard against hangs per call (never a timed assertion). */
/** Time for the last FIN, which leaves on the tick after close() returns, before a count ends. */
const SETTLE_MS = 100
const guard = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(60_000) })

/** Reads one frame, answers it with the same bytes, closes: the shape of a refused contact. */
async function serveEcho(node: Libp2p, protocol = ECHO): Promise<void> {
  await node.handle(
    protocol,
    async (stream) => {
      const lp = lpStream(stream)
      await lp.write(await lp.read())
      await stream.close()
    },
    { maxInboundStreams: 256 }
  )
}

/** One request on `protocol`, selected optimistically or in full; the reply and the stream's protocol. */
async function request(
  from: Libp2p,
  to: Libp2p,
  bytes: Uint8Array,
  negotiateFully: boolean,
  protocol = ECHO
): Promise<{ reply: Uint8Array; protocol: string }> {
  const options = guard()
  const stream = await from.dialProtocol(to.getMultiaddrs()[0]!, protocol, {
    ...options,
    negotiateFully,
    maxOutboundStreams: 256
  })
  const lp = lpStream(stream)
  await lp.write(bytes, options)
  const reply = Uint8Array.from((await lp.read(options)).subarray())
  await stream.close(options)
  return { reply, protocol: stream.protocol }
}

describe('optimistic protocol selection (negotiateFully: false)', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => {
    await Promise.allSettled(nodes.splice(0).map((n) => n.stop()))
  })

  it('sends the first data with the proposal: one message each way fewer than a full negotiation', async () => {
    const listener = await createTaleusNode()
    const dialer = await createTaleusNode({ listen: [] })
    nodes.push(listener, dialer)
    await serveEcho(listener)
    const payload = new Uint8Array(300).fill(7)
    // the connection, and each side's first stream, before counting
    await request(dialer, listener, payload, true)
    await request(dialer, listener, payload, false)
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))

    /** Socket writes of one checked request, negotiated in full or optimistically. */
    const writesOf = (negotiateFully: boolean): Promise<{ listener: number; dialer: number }> =>
      socketWrites(
        listener,
        async () => {
          const { reply, protocol } = await request(dialer, listener, payload, negotiateFully)
          expect(reply).toEqual(payload)
          expect(protocol).toBe(ECHO)
        },
        SETTLE_MS
      )
    const full = await writesOf(true)
    const optimistic = await writesOf(false)
    // full: the proposal, then (after the echo) the data, then the FIN; the echo, then the answer
    expect(full).toEqual({ dialer: 3, listener: 2 })
    // optimistic: proposal and data together, then the FIN; echo and answer together
    expect(optimistic).toEqual({ dialer: 2, listener: 1 })
  })

  it('a stock libp2p listener answers an optimistic stream (nothing new is needed there)', async () => {
    const listener = await stockNode()
    const dialer = await createTaleusNode({ listen: [] })
    nodes.push(listener, dialer)
    await serveEcho(listener)
    for (let i = 0; i < 5; i++) {
      const payload = new Uint8Array(50 + i * 400).fill(i)
      const { reply } = await request(dialer, listener, payload, false)
      expect(reply).toEqual(payload)
    }
  })

  it('a listener that does not speak the protocol fails the first read with UnsupportedProtocolError', async () => {
    const listener = await createTaleusNode()
    const dialer = await createTaleusNode({ listen: [] })
    nodes.push(listener, dialer)
    await serveEcho(listener, OTHER)
    const err = await request(dialer, listener, new Uint8Array(40), false).catch((e: unknown) => e)
    expect((err as Error).name).toBe('UnsupportedProtocolError')
    // the connection is still good: a full negotiation of a protocol it speaks goes through
    const { reply } = await request(dialer, listener, new Uint8Array([1, 2, 3]), true, OTHER)
    expect(reply).toEqual(new Uint8Array([1, 2, 3]))
  })

  it('takes an echo that arrives a byte at a time out of what the stream reads', async () => {
    const [outbound, inbound] = await streamPair()
    selectOptimistically(outbound, ECHO)
    const lp = lpStream(outbound)
    await lp.write(new TextEncoder().encode('hello'))
    // the far side finds the proposal, then the data after it
    const inLp = lpStream(inbound)
    const text = async (): Promise<string> => new TextDecoder().decode((await inLp.read()).subarray())
    expect([await text(), await text(), await text()]).toEqual(['/multistream/1.0.0\n', `${ECHO}\n`, 'hello'])
    // the echo a byte at a time, then the answer
    for (const byte of selectProposal(ECHO)) inbound.send(Uint8Array.of(byte))
    await inLp.write(new TextEncoder().encode('world'))
    expect(new TextDecoder().decode((await lp.read()).subarray())).toBe('world')
    expect(outbound.protocol).toBe(ECHO)
  })

  it('hands a stock multistream listener the data that came with the proposal', async () => {
    const [outbound, inbound] = await streamPair()
    selectOptimistically(outbound, ECHO)
    await lpStream(outbound).write(new TextEncoder().encode('hello'))
    expect(await handle(inbound, [OTHER, ECHO])).toBe(ECHO)
    expect(new TextDecoder().decode((await lpStream(inbound).read()).subarray())).toBe('hello')
  })

  it('fails on the first byte that is not the echo', async () => {
    const [outbound, inbound] = await streamPair()
    selectOptimistically(outbound, ECHO)
    const lp = lpStream(outbound)
    const read = lp.read().catch((e: unknown) => e)
    const echo = selectProposal(ECHO)
    // multistream's header, then `na` where the protocol should be
    inbound.send(echo.subarray(0, 20))
    inbound.send(selectProposal('na').subarray(20))
    expect(((await read) as Error).name).toBe('UnsupportedProtocolError')
  })
})
