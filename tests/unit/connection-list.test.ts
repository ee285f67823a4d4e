import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { PeerMap } from '@libp2p/peer-collections'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Connection, PeerId } from '@libp2p/interface'
import { ConnectionList } from '../../main/node/connection-list.ts'

/** A deterministic pseudo-random sequence, so a failure replays. */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

function flatten(table: PeerMap<Connection[]>): Set<Connection> {
  const all = new Set<Connection>()
  for (const conns of table.values()) for (const c of conns) all.add(c)
  return all
}

describe('ConnectionList: the flat list of libp2p’s connection table', () => {
  it('matches the table after every change libp2p makes to it (connect, disconnect, in-place push, clear)', async () => {
    const peers: PeerId[] = []
    for (let i = 0; i < 12; i++) peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')))
    const table = new PeerMap<Connection[]>()
    // a connection already in the table before the list follows it
    const first = { id: 'c0', remotePeer: peers[0] } as unknown as Connection
    table.set(peers[0]!, [first])
    const list = new ConnectionList()
    const resync = list.follow(table)
    const random = rng(7)
    let next = 1
    for (let step = 0; step < 3000; step++) {
      const peer = peers[Math.floor(random() * peers.length)]!
      const r = random()
      if (r < 0.4) {
        // connection-manager _onConnect: push into the stored array, then set
        const conns = table.get(peer) ?? []
        conns.push({ id: `c${next++}`, remotePeer: peer } as unknown as Connection)
        table.set(peer, conns)
      } else if (r < 0.5) {
        // openConnection: a new array set first, the connection pushed into it afterwards
        let conns = table.get(peer)
        if (conns == null) table.set(peer, (conns = []))
        conns.push({ id: `c${next++}`, remotePeer: peer } as unknown as Connection)
        resync(peer)
      } else if (r < 0.95) {
        // onDisconnect: filter one out, set what is left, delete the entry when empty
        const conns = table.get(peer) ?? []
        if (conns.length === 0) continue
        const gone = conns[Math.floor(random() * conns.length)]!
        const left = conns.filter((c) => c !== gone)
        table.set(peer, left)
        if (left.length === 0) table.delete(peer)
      } else if (r < 0.96) {
        table.clear()
      }
      const expected = flatten(table)
      expect(list.size).toBe(expected.size)
      expect(new Set(list.snapshot())).toEqual(expected)
    }
  })

  it('hands out copies: sorting one does not change the list', () => {
    const list = new ConnectionList()
    const a = { id: 'a' } as unknown as Connection
    const b = { id: 'b' } as unknown as Connection
    list.sync('p', [a, b])
    list.snapshot().reverse()
    expect(list.snapshot()).toEqual([a, b])
  })
})
