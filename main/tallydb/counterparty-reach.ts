/** Reaching a document's counterparty: its addresses, opening at the provisioner, inviting the opener. */
import type { DocHandle, DocumentId, PeerId as RepoPeerId, Repo } from '@automerge/automerge-repo'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { GrantRefusedError, TallyDbUnreachableError } from './errors.ts'
import type { Libp2pNetworkAdapter, Opened } from './libp2p-adapter.ts'
import type { IndexEntry } from './tally-index.ts'
import type { StoredTallyDoc } from './tally-document.ts'
import { delay, raceSignal } from './wait-signal.ts'

/** Open `tallyId` at its provisioner with `grant`; a failure to reach it is TallyDbUnreachableError. */
export async function openAt(
  adapter: Libp2pNetworkAdapter,
  tallyId: string,
  provisionerPeerId: string,
  nodes: string[],
  grant: string,
  signal?: AbortSignal
): Promise<Opened> {
  let peer: PeerId
  try {
    peer = peerIdFromString(provisionerPeerId)
  } catch (err) {
    throw new TallyDbUnreachableError('bad provisioner peer id', { cause: err })
  }
  const addrs = peerAddrs(provisionerPeerId, nodes)
  try {
    return await adapter.open(peer, addrs, tallyId, grant, signal === undefined ? {} : { signal })
  } catch (err) {
    if (err instanceof GrantRefusedError || signal?.aborted === true) throw err
    throw new TallyDbUnreachableError(undefined, { cause: err })
  }
}

/** Find a document that only the provisioner has yet: wait until the repo knows the peer, then ask it. */
export async function findRemote(
  repo: Repo,
  adapter: Libp2pNetworkAdapter,
  documentId: string,
  peer: string,
  signal?: AbortSignal
): Promise<DocHandle<StoredTallyDoc>> {
  for (;;) {
    signal?.throwIfAborted()
    if (repo.peers.includes(peer as RepoPeerId)) {
      try {
        // not find's own signal: automerge-repo then rejects a promise nobody awaits
        return await raceSignal(repo.find<StoredTallyDoc>(documentId as DocumentId), signal)
      } catch (err) {
        if (signal?.aborted === true || !adapter.isOpen(peer, documentId as DocumentId)) throw err
        // unavailable: the peer joined the repo a moment after we asked; ask again
        await repo.removeFromCache(documentId as DocumentId).catch(() => {})
      }
    }
    await delay(5, signal)
  }
}

/** Provisioner: open a channel to the opener, then wait (until `signal`) for it to open the document. */
export async function invite(
  adapter: Libp2pNetworkAdapter,
  entry: IndexEntry,
  isClosed: () => boolean,
  signal?: AbortSignal
): Promise<boolean> {
  if (entry.revoked === true) return false
  const addrs = peerAddrs(entry.counterpartyPeerId, entry.nodes ?? [])
  await adapter.channelTo(
    peerIdFromString(entry.counterpartyPeerId),
    addrs,
    signal === undefined ? {} : { signal }
  )
  while (!adapter.isOpen(entry.counterpartyPeerId, entry.documentId as DocumentId)) {
    if (signal === undefined || signal.aborted || isClosed()) return false
    await delay(20, signal).catch(() => undefined)
  }
  return true
}

/** The multiaddrs of `peerId` among `nodes` (at most 16): a dbConnectionInfo cannot point us at someone else. */
export function peerAddrs(peerId: string, nodes: string[]): Multiaddr[] {
  const addrs: Multiaddr[] = []
  for (const n of nodes.slice(0, 16)) {
    try {
      const ma = multiaddr(n)
      const p2p = ma.getComponents().find((c) => c.name === 'p2p')?.value
      if (p2p === undefined) addrs.push(ma.encapsulate(`/p2p/${peerId}`))
      else if (p2p === peerId) addrs.push(ma)
    } catch {
      // not a multiaddr: skip it
    }
  }
  return addrs
}
