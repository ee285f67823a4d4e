/**
 * The cadre's nodes: each node's heartbeat and listen addresses in `nodes`, so every node can put the
 * whole cadre in a link, and a node silent too long counts as gone (its drafts are settled by others).
 */
import type { Pool } from 'pg'
import type { PgNotifier } from './pg-notifier.ts'

/** What the node list needs from its store. */
export interface PgNodesInit {
  pool: Pool
  notifier: PgNotifier
  node: string
  staleNodeMs: number
}

/** This node's entry and the other live nodes' addresses. */
export class PgNodes {
  #init: PgNodesInit
  #addrs: () => string[] = () => []
  /** The other live nodes' addresses, by node. */
  #cadre = new Map<string, string[]>()
  /** Notes that arrived while a heartbeat's read was in flight: newer than its snapshot. */
  #notedDuringRead: Map<string, string[]> | undefined

  constructor(init: PgNodesInit) {
    this.#init = init
  }

  /** Publish this node's addresses (asked again at every heartbeat) and tell the others at once. */
  async announce(addrs: () => string[]): Promise<void> {
    this.#addrs = addrs
    await this.heartbeat()
    this.#init.notifier.send(JSON.stringify({ k: 'node', n: this.#init.node, addrs: addrs().slice(0, 16) }))
    await this.#init.notifier.flush()
  }

  /** The addresses of the other live nodes, one list per node. */
  others(): string[][] {
    return [...this.#cadre.values()].map((a) => [...a])
  }

  /** Another node announced its addresses. */
  note(node: string, addrs: unknown): void {
    if (node === this.#init.node) return
    this.#cadre.set(node, textList(addrs))
    this.#notedDuringRead?.set(node, textList(addrs))
  }

  /** Say this node is alive (with its addresses) and read which others are. */
  async heartbeat(): Promise<void> {
    const { pool, node, staleNodeMs } = this.#init
    const noted = new Map<string, string[]>()
    this.#notedDuringRead = noted
    const res = await pool.query<{ node: string; addrs: unknown }>(
      `WITH me AS (
         INSERT INTO nodes (node, peer_id, addrs, seen_at) VALUES ($1, '', $2, now())
         ON CONFLICT (node) DO UPDATE SET seen_at = now(), addrs = EXCLUDED.addrs
       )
       SELECT node, addrs FROM nodes
       WHERE node <> $1 AND seen_at > now() - make_interval(secs => $3::double precision / 1000)
       ORDER BY node`,
      [node, JSON.stringify(this.#addrs()), staleNodeMs]
    )
    if (this.#notedDuringRead === noted) this.#notedDuringRead = undefined
    // a node that announced itself while the read ran may be missing from its snapshot: keep its note
    this.#cadre = new Map([...res.rows.map((r): [string, string[]] => [r.node, textList(r.addrs)]), ...noted])
  }
}

function textList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string') : []
}
