/**
 * A change lost on its way, as on a channel that closes with the change still in it (a cadre's nodes take
 * turns on the customer's one channel to their shared PeerId): once the counterparty opens the document
 * on a new channel, the change arrives. automerge-repo counts a message as sent once it handed it over,
 * and forgets that only when it begins a peer's sync; a peer whose first message on the new channel came
 * before that was answered from the old count for good (a sync ping-pong that never carried the change:
 * CI's cadre test stalled on it under load). Real nodes on 127.0.0.1, both roles.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { decodeSyncMessage } from '@automerge/automerge'
import type { PartyRole } from '../../main/bootstrap/index.ts'
import { Libp2pNetworkAdapter } from '../../main/tallydb/index.ts'
import { DbWorld, proposalSeen, until } from '../helpers/tallydb-party.ts'

const TERMS = { stockCreditLimit: 500, foilCreditLimit: 100, unit: 'CHIP', note: 'net 30' }
const WAIT_MS = 20_000

/** Whether a sync message's bytes carry changes (not only heads, a filter or a request for more). */
function carriesChanges(data: Uint8Array | undefined): boolean {
  if (data === undefined) return false
  try {
    return decodeSyncMessage(data).changes.length > 0
  } catch {
    return false
  }
}

/** Drops the next sync message `from` sends that carries changes, as a channel closing under it would. */
function loseNextChange(from: string): { lost: () => boolean; restore: () => void } {
  const send = Libp2pNetworkAdapter.prototype.send
  let lost = false
  Libp2pNetworkAdapter.prototype.send = function (this: Libp2pNetworkAdapter, message) {
    const data = 'data' in message ? (message.data as Uint8Array | undefined) : undefined
    if (!lost && message.senderId === from && message.type === 'sync' && carriesChanges(data)) {
      lost = true
      return
    }
    send.call(this, message)
  }
  return { lost: () => lost, restore: () => (Libp2pNetworkAdapter.prototype.send = send) }
}

describe('a change lost on a channel that closed', () => {
  const world = new DbWorld()
  afterEach(async () => world.close())

  it.each<PartyRole>(['stock', 'foil'])(
    '%s: the provisioner’s change reaches the opener once it opens the document on a new channel',
    async (role) => {
      const a = await world.party({ listen: true })
      let b = await world.party()
      const { link } = await a.createToken({ role, uses: 'unlimited', terms: TERMS })
      const result = await b.manager.initiateBootstrap(link, b.node)
      const tallyId = result.tally.tallyId
      // stock: A provisions and serves, B opens; foil: the other way round
      const provisioner = role === 'stock' ? a : b
      const opener = role === 'stock' ? b : a
      const first = await opener.db.propose(tallyId, { note: 'live' })
      await proposalSeen(provisioner, tallyId, first.proposalId, WAIT_MS)

      const loss = loseNextChange(provisioner.peerId)
      let change: { proposalId: string }
      try {
        change = await provisioner.db.propose(tallyId, { unit: 'EUR' })
        await until(() => (loss.lost() ? true : undefined), WAIT_MS)
      } finally {
        loss.restore()
      }
      expect((await opener.db.read(tallyId))?.document.proposals.map((p) => p.proposalId)).not.toContain(
        change.proposalId
      )

      // the opener comes back on a new channel and opens the document there
      if (role === 'stock') {
        b = await world.restart(b)
        await b.db.sync(tallyId, { signal: AbortSignal.timeout(WAIT_MS) })
        await proposalSeen(b, tallyId, change.proposalId, WAIT_MS)
      } else {
        // in foil the opener is A: B (the provisioner) stays up, A's channel to it is closed and opened again
        await a.node.hangUp(b.node.peerId)
        await a.db.sync(tallyId, { signal: AbortSignal.timeout(WAIT_MS) })
        await proposalSeen(a, tallyId, change.proposalId, WAIT_MS)
      }
    },
    60_000
  )
})
