/**
 * No AbortSignal.timeout left behind per customer: the carried libp2p patch (patches/, applied by `npm ci`
 * through patch-package) and the connection guard's close use timers that stop when the work is done.
 * An AbortSignal.timeout outlives its work and fires seconds later, building a DOMException each time.
 */
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import type { Libp2p, Stream } from '@libp2p/interface'
import { createLibp2p } from 'libp2p'
import { createTaleusNode } from '../../main/node/index.ts'
import { timeoutStacks } from '../helpers/timeout-spy.ts'

const PROTOCOL = '/taleus-test/timers/1.0.0'

function disconnected(node: Libp2p, from: Libp2p): Promise<void> {
  return new Promise((resolve) => {
    const on = (evt: CustomEvent): void => {
      if (evt.detail.equals(from.peerId)) {
        node.removeEventListener('peer:disconnect', on)
        resolve()
      }
    }
    node.addEventListener('peer:disconnect', on)
  })
}

describe('per-connection timers (carried libp2p patch, connection guard)', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()))
  })

  it('an inbound connection, its stream and its disconnect create no AbortSignal.timeout', async () => {
    const listener = await createTaleusNode()
    const dialer = await createTaleusNode({ listen: [] })
    nodes.push(listener, dialer)
    await listener.handle(PROTOCOL, async (stream) => {
      for await (const chunk of stream) stream.send(chunk)
      await stream.close()
    })
    const callers = await timeoutStacks(async () => {
      const signal = new AbortController().signal
      const stream = await dialer.dialProtocol(listener.getMultiaddrs()[0]!, PROTOCOL, { signal })
      stream.send(new TextEncoder().encode('hello'))
      await stream.close({ signal })
      const gone = disconnected(listener, dialer)
      await dialer.hangUp(listener.peerId, { signal })
      await gone
    })
    const onListener = callers.filter((s) =>
      /onIncomingStream|createInboundAbortSignal|upgradeInbound|_onDisconnect/.test(s)
    )
    expect(onListener).toEqual([])
  })

  it('an idle connection the guard reaps is closed without an AbortSignal.timeout', async () => {
    const listener = await createTaleusNode({ connectionGuard: { idleGraceMs: 100, sweepIntervalMs: 50 } })
    const dialer = await createTaleusNode({ listen: [] })
    nodes.push(listener, dialer)
    const callers = await timeoutStacks(async () => {
      const gone = disconnected(listener, dialer)
      await dialer.dial(listener.getMultiaddrs()[0]!, { signal: new AbortController().signal })
      await gone
    })
    expect(callers.filter((s) => /ConnectionGuard/.test(s))).toEqual([])
  })

  it('the patched deadlines still fire: a stream that never negotiates, a socket that never handshakes', async () => {
    // a stock libp2p node with short deadlines: the patch is in libp2p itself, whatever the options
    const listener = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { inboundStreamProtocolNegotiationTimeout: 300, inboundUpgradeTimeout: 300 }
    })
    const dialer = await createTaleusNode({ listen: [] })
    nodes.push(listener, dialer)
    const addr = listener.getMultiaddrs()[0]!

    // a muxed stream on which the dialer never says which protocol it wants
    const conn = await dialer.dial(addr)
    const muxer = (conn as unknown as { muxer: { createStream(): Promise<Stream> } }).muxer
    const raw = await muxer.createStream()
    await until(() => raw.status !== 'open', 10_000)
    expect(raw.status).not.toBe('open')
    expect(conn.status).toBe('open')

    // a TCP socket that never starts the Noise handshake
    const port = Number(addr.toString().split('/tcp/')[1]!.split('/')[0])
    const socket = connect(port, '127.0.0.1')
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socket.on('error', () => {})
    await Promise.race([closed, until(() => false, 10_000)])
    expect(socket.destroyed).toBe(true)
  })
})

/** Polls `ok` until it is true or `ms` pass (a bound against hangs, not a timing assertion). */
async function until(ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!ok() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20))
}
