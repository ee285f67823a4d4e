/**
 * The tally database's periodic reconnect backs off from a counterparty it cannot reach: an outside tester
 * made foil tallies naming addresses of someone else's host, and the merchant's node dialled them all every
 * 30 s, forever (5 664 attempts a round with 960 tallies). Now each counterparty waits 30 s, 1 min, 2 min…
 * up to 6 h between rounds, once per round whatever the number of its tallies; it is tried at once when it
 * connects to us, and forgotten once reached.
 */
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { ChannelKeeper } from '../../main/tallydb/channel-keeper.ts'
import type { ChannelKeeperParts } from '../../main/tallydb/channel-keeper.ts'
import { sealGrant } from '../../main/tallydb/grant.ts'
import type { IndexEntry } from '../../main/tallydb/tally-index.ts'

async function peerId(): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}

async function world(reachable: Set<string>) {
  const grantKey = randomBytes(32)
  const entries: IndexEntry[] = []
  const dials: string[] = []
  const open = new Set<string>()
  let now = 1_000_000
  const parts: ChannelKeeperParts = {
    adapter: {
      isOpen: (peer: string, doc: string) => open.has(`${peer}/${doc}`),
      open: async (peer: { toString(): string }, _addrs: unknown, tallyId: string) => {
        dials.push(peer.toString())
        if (!reachable.has(peer.toString())) throw new Error('connection refused')
        const entry = entries.find((e) => e.tallyId === tallyId)!
        open.add(`${entry.counterpartyPeerId}/${entry.documentId}`)
        return {}
      }
    } as unknown as ChannelKeeperParts['adapter'],
    index: {
      opened: (peer?: string) => entries.filter((e) => peer === undefined || e.counterpartyPeerId === peer)
    } as unknown as ChannelKeeperParts['index'],
    grantKey,
    closing: new AbortController().signal,
    opened: async () => {},
    now: () => now
  }
  const add = (counterpartyPeerId: string): void => {
    const tallyId = `t${entries.length}`
    entries.push({
      tallyId,
      documentId: `d${entries.length}`,
      counterpartyPeerId,
      provisioner: false,
      nodes: ['/ip4/127.0.0.1/tcp/9'],
      sealedGrant: sealGrant(grantKey, tallyId, 'grant'),
      createdAt: now
    })
  }
  return {
    keeper: new ChannelKeeper(parts),
    add,
    dials,
    advance: (ms: number) => (now += ms)
  }
}

describe('the periodic reconnect to counterparties', () => {
  it('tries an unreachable counterparty once a round, then waits twice as long each time, up to 6 h', async () => {
    const gone = await peerId()
    const w = await world(new Set())
    for (let i = 0; i < 50; i++) w.add(gone)
    w.keeper.reconnect()
    await settle()
    // four workers start together, so a round may dial it up to four times; never once per tally
    const first = w.dials.length
    expect(first).toBeGreaterThan(0)
    expect(first).toBeLessThanOrEqual(4)
    // the next rounds inside its wait dial nothing
    w.advance(29_000)
    w.keeper.reconnect()
    await settle()
    expect(w.dials.length).toBe(first)
    const rounds: number[] = []
    // a round every 30 s for two days: the dials fall off to a few a day
    for (let t = 0; t < 2 * 24 * 120; t++) {
      w.advance(30_000)
      const before = w.dials.length
      w.keeper.reconnect()
      await settle()
      if (w.dials.length > before) rounds.push(t)
    }
    expect(rounds.length).toBeLessThan(20)
    const gaps = rounds.slice(1).map((t, i) => t - rounds[i]!)
    // the last gaps are the 6 h cap (720 rounds of 30 s), never more
    expect(Math.max(...gaps)).toBeLessThanOrEqual(720)
    expect(gaps.at(-1)).toBe(720)
  })

  it('a counterparty that connects to us is tried at once, and one that is reached is forgotten', async () => {
    const back = await peerId()
    const reachable = new Set<string>()
    const w = await world(reachable)
    w.add(back)
    w.add(back)
    w.keeper.reconnect()
    await settle()
    const failed = w.dials.length
    reachable.add(back)
    // its wait is not over, but it connected to us: the keeper tries it now
    w.keeper.reconnect(back)
    await settle()
    expect(w.dials.length).toBeGreaterThan(failed)
    expect(w.keeper.isOpen({ counterpartyPeerId: back, documentId: 'd0' } as IndexEntry)).toBe(true)
  })

  it('an unreachable counterparty does not hold back the others', async () => {
    const gone = await peerId()
    const here = await peerId()
    const w = await world(new Set([here]))
    for (let i = 0; i < 10; i++) w.add(gone)
    w.keeper.reconnect()
    await settle()
    w.add(here)
    w.advance(1_000)
    w.keeper.reconnect()
    await settle()
    expect(w.dials.filter((d) => d === here)).toHaveLength(1)
  })
})
