/**
 * The connection a cadre node LISTENs on. If it is lost (server restart, network), it listens again on a
 * new one and says so, so the store reloads what it may have missed meanwhile.
 */
import type { Notification, Pool, PoolClient } from 'pg'
import { parseNote } from './notify.ts'
import type { CadreNote } from './notify.ts'

/** Wait before listening again after the connection was lost. */
const RELISTEN_MS = 1000

/** What the listener needs. */
export interface CadreListenerInit {
  pool: Pool
  channel: string
  /** This node's name: its own notes (it applied the change already) are dropped unparsed. */
  node: string
  /** One of the cadre's notes (a malformed payload never reaches it). */
  note(note: CadreNote): void
  /** Listening again after a loss: notes may have been missed. */
  resumed(): Promise<void>
}

/** LISTEN on the cadre's channel, for as long as the store is open. */
export class CadreListener {
  #init: CadreListenerInit
  #client: PoolClient | undefined
  #closed = false

  constructor(init: CadreListenerInit) {
    this.#init = init
  }

  async start(): Promise<void> {
    const client = await this.#init.pool.connect()
    const lost = (): void => this.#lost(client)
    client.on('notification', (msg: Notification) => this.#onNotification(msg))
    client.on('error', lost)
    client.on('end', lost)
    try {
      await client.query(`LISTEN "${this.#init.channel}"`)
    } catch (err) {
      client.release(true)
      throw err
    }
    this.#client = client
  }

  close(): void {
    this.#closed = true
    this.#client?.release()
    this.#client = undefined
  }

  #lost(client: PoolClient): void {
    if (this.#client !== client) return
    this.#client = undefined
    client.release(true)
    const retry = (): void => {
      if (this.#closed) return
      this.start()
        .then(async () => this.#init.resumed())
        .catch(() => setTimeout(retry, RELISTEN_MS).unref())
    }
    setTimeout(retry, RELISTEN_MS).unref()
  }

  #onNotification(msg: Notification): void {
    if (msg.channel !== this.#init.channel || this.#closed) return
    if (senderOf(msg.payload) === this.#init.node) return
    const note = parseNote(msg.payload)
    if (note === undefined) return
    try {
      this.#init.note(note)
    } catch {
      // a malformed note from an older node changes nothing
    }
  }
}

/** Every note starts with its kind and sender (`{"k":"…","n":"…"`, or json_build_object's spaced form). */
const SENDER = /^\{"k" ?: ?"[a-z]+", ?"n" ?: ?"([^"]*)"/

/** The node that sent a payload, read from its first bytes without parsing it. */
export function senderOf(payload: string | undefined): string | undefined {
  return payload === undefined ? undefined : SENDER.exec(payload.slice(0, 160))?.[1]
}
