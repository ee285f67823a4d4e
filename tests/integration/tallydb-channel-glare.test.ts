/**
 * Both peers of a tally document open a channel to each other at the same moment (each on the other's
 * connect, or a change on both sides after a restart): both must keep the same channel, so an open request
 * sent on either is answered. Real libp2p nodes on 127.0.0.1; the interleaving varies per round.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { DocumentId, PeerId as RepoPeerId } from '@automerge/automerge-repo/slim'
import type { Libp2p } from '@libp2p/interface'
import { createTaleusNode } from '../../main/node/index.ts'
import { Libp2pNetworkAdapter } from '../../main/tallydb/libp2p-adapter.ts'

const DOC = 'glare-document' as DocumentId
/** A guard against hangs per call, generous: a first round on a loaded machine is slow, not stuck. */
const guard = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(60_000) })

/** Resolves after `ms` (0: the next macrotask). */
const pause = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('tally database channels opened by both peers at once', () => {
  const nodes: Libp2p[] = []
  const adapters: Libp2pNetworkAdapter[] = []
  afterEach(async () => {
    await Promise.allSettled(adapters.splice(0).map(async (a) => a.stop()))
    await Promise.allSettled(nodes.splice(0).map(async (n) => n.stop()))
  })

  it(
    'keeps one channel on both sides, and the open request sent meanwhile is answered',
    { timeout: 300_000 },
    async () => {
      const provisioner = await createTaleusNode()
      const opener = await createTaleusNode()
      nodes.push(provisioner, opener)
      const served = new Libp2pNetworkAdapter(provisioner, {
        authorize: async (req) =>
          req.tallyId === 'tally' && req.grant === 'grant' && req.remotePeer === opener.peerId.toString()
            ? DOC
            : undefined
      })
      const joining = new Libp2pNetworkAdapter(opener)
      adapters.push(served, joining)
      served.connect(provisioner.peerId.toString() as RepoPeerId)
      joining.connect(opener.peerId.toString() as RepoPeerId)
      await Promise.all([served.start(), joining.start()])
      const addr = provisioner.getMultiaddrs()[0]!

      for (let round = 0; round < 12; round++) {
        // a fresh connection each round, then both sides open a channel on it at nearly the same time
        await opener.dial(addr, guard())
        // the provisioner's side of the connection too (it dials back over it, by PeerId)
        const open = (): boolean => provisioner.getConnections(opener.peerId).some((c) => c.status === 'open')
        for (let i = 0; i < 2500 && !open(); i++) await pause(2)
        const lag = round % 4
        const [opened] = await Promise.all([
          (async () => {
            if (round % 2 === 0) await pause(lag)
            return joining.open(provisioner.peerId, [addr], 'tally', 'grant', guard())
          })(),
          (async () => {
            if (round % 2 === 1) await pause(lag)
            return served.channelTo(opener.peerId, [], guard())
          })()
        ])
        expect(opened.documentId).toBe(DOC)
        // both sides' channel for the other is the one that carries the document
        await pause(50)
        expect(joining.isOpen(provisioner.peerId.toString(), DOC)).toBe(true)
        expect(served.isOpen(opener.peerId.toString(), DOC)).toBe(true)
        await opener.hangUp(provisioner.peerId, guard())
        // the next round on a new connection (a closing one may still be listed for a moment)
        for (let i = 0; i < 500 && provisioner.getConnections(opener.peerId).length > 0; i++) await pause(10)
      }
    }
  )
})
