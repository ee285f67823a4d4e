/**
 * Every connection of libp2p's connection table in one array, kept in step with the table's own writes
 * (`set`, `delete`, `clear` of its PeerMap, and the in-place push of `openConnection`), so the list of all
 * connections costs a copy of an array instead of a walk of the table: libp2p asks for it twice per
 * inbound connection (the inbound check and the pruner), and a walk grows with every customer connected.
 */
import type { Connection, PeerId } from '@libp2p/interface'

/** The PeerMap behind `connectionManager.getConnectionsMap()`, as far as the list needs it. */
export interface ConnectionTable {
  get(peer: PeerId): Connection[] | undefined
  set(peer: PeerId, connections: Connection[]): void
  delete(peer: PeerId): boolean
  clear(): void
  entries(): Iterable<[PeerId, Connection[]]>
}

const NONE: readonly Connection[] = []

/** The flat list of a connection table's connections, updated in O(connections of one peer) per change. */
export class ConnectionList {
  readonly #all: Connection[] = []
  readonly #at = new Map<Connection, number>()
  /** What the table held per peer at its last change (a copy: libp2p pushes into its arrays in place). */
  readonly #byPeer = new Map<string, Connection[]>()

  /** Connections listed. */
  get size(): number {
    return this.#all.length
  }

  /** A copy of the list (callers sort it in place). */
  snapshot(): Connection[] {
    return this.#all.slice()
  }

  /** Brings one peer's entries in line with what the table now holds for it (undefined: none). */
  sync(key: string, now: readonly Connection[] | undefined): void {
    const held = now ?? NONE
    const before = this.#byPeer.get(key) ?? NONE
    for (const conn of before) if (!held.includes(conn)) this.#remove(conn)
    for (const conn of held) if (!this.#at.has(conn)) this.#add(conn)
    if (held.length === 0) this.#byPeer.delete(key)
    else this.#byPeer.set(key, held.slice())
  }

  /** Forgets everything (the table was cleared). */
  clear(): void {
    this.#all.length = 0
    this.#at.clear()
    this.#byPeer.clear()
  }

  /**
   * Follows `table` from now on: seeds the list with what it holds and wraps its writes. Returns a
   * function to call after a write the table does not see (an in-place push into a peer's array).
   */
  follow(table: ConnectionTable): (peer: PeerId) => void {
    for (const [peer, conns] of table.entries()) this.sync(peer.toString(), conns)
    const set = table.set.bind(table)
    const remove = table.delete.bind(table)
    const clear = table.clear.bind(table)
    table.set = (peer, conns) => {
      set(peer, conns)
      this.sync(peer.toString(), conns)
    }
    table.delete = (peer) => {
      const removed = remove(peer)
      this.sync(peer.toString(), undefined)
      return removed
    }
    table.clear = () => {
      clear()
      this.clear()
    }
    return (peer) => this.sync(peer.toString(), table.get(peer))
  }

  #add(conn: Connection): void {
    this.#at.set(conn, this.#all.length)
    this.#all.push(conn)
  }

  /** Swap-remove: the last entry takes the removed one's place, so the order is not kept. */
  #remove(conn: Connection): void {
    const i = this.#at.get(conn)
    if (i === undefined) return
    this.#at.delete(conn)
    const last = this.#all.pop()!
    if (last !== conn) {
      this.#all[i] = last
      this.#at.set(last, i)
    }
  }
}
