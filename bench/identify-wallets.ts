/**
 * Bench child: wallets on stock libp2p that ask a merchant's identify (issue K, the signed peer record).
 * `connect` {addr, connections} → `connected`; `ask` {count} → `asked` {wallMs}; `stop` → `stopped`.
 */
import '../main/bootstrap/polyfill.ts'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Connection, Libp2p } from '@libp2p/interface'
import { onMessages, send } from './lib/child.ts'

const wallets: Array<{ wallet: Libp2p<{ identify: Identify }>; conn: Connection }> = []

onMessages(async (message) => {
  switch (message.type) {
    case 'connect': {
      for (let i = 0; i < (message.connections as number); i++) {
        // identify only when asked: each answer the bench counts is one it asked for
        const wallet = await createLibp2p({
          transports: [tcp()],
          connectionEncrypters: [noise()],
          streamMuxers: [yamux()],
          services: { identify: identify({ runOnConnectionOpen: false }) }
        })
        wallets.push({ wallet, conn: await wallet.dial(multiaddr(message.addr as string)) })
      }
      send({ type: 'connected' })
      break
    }
    case 'ask': {
      // each connection asks in turn: identify takes one stream per protocol and connection at a time
      const perWallet = Math.ceil((message.count as number) / wallets.length)
      const t0 = performance.now()
      await Promise.all(
        wallets.map(async ({ wallet, conn }) => {
          for (let i = 0; i < perWallet; i++) await wallet.services.identify.identify(conn)
        })
      )
      send({ type: 'asked', wallMs: performance.now() - t0, count: perWallet * wallets.length })
      break
    }
    case 'stop':
      await Promise.all(wallets.splice(0).map(({ wallet }) => wallet.stop()))
      send({ type: 'stopped' })
      break
  }
})
