/** Nodes and counters for tests of what goes over the wire: a stock libp2p peer, socket writes per side. */
import net from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'

/** What any other libp2p peer runs: stock Noise (its own crypto) and Yamux, keep-alive on. */
export async function stockNode(): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

/**
 * Socket writes made while `fn` runs by the listening side of `listener`'s connections and by the sides
 * that dialled it; `settleMs` more after it, for a FIN that leaves on the tick after close() returns.
 */
export async function socketWrites(
  listener: Libp2p,
  fn: () => Promise<void>,
  settleMs = 0
): Promise<{ listener: number; dialer: number }> {
  const port = Number(listener.getMultiaddrs()[0]!.toString().split('/')[4])
  const counts = { listener: 0, dialer: 0 }
  const write = net.Socket.prototype.write
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
    if (this.localPort === port) counts.listener++
    else if (this.remotePort === port) counts.dialer++
    return (write as (...a: unknown[]) => boolean).apply(this, args)
  } as typeof write
  try {
    await fn()
    if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs))
  } finally {
    net.Socket.prototype.write = write
  }
  return counts
}
