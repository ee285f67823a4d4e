/**
 * The p2p port of a node that was not told where to listen: the first run takes any free port, later runs
 * take that same port again, so a QR code printed before a restart still reaches the node.
 */
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { readSavedPort, writeSavedPort } from './saved-port.ts'

/** Where the port is kept, in the data folder. */
export const LISTEN_PORT_FILE = 'listen-port.json'

/** Every interface, so customers on the LAN reach the merchant; `port` 0: any free one. */
export function defaultListen(port = 0): string[] {
  return [`/ip4/0.0.0.0/tcp/${port}`]
}

/** The port the node listened on last time, if it was saved. */
export async function savedListenPort(dataDir: string): Promise<number | undefined> {
  return readSavedPort(join(dataDir, LISTEN_PORT_FILE))
}

/** Saves the TCP port `node` listens on (the first, when several), for the next run. */
export async function saveListenPort(dataDir: string, node: Libp2p): Promise<void> {
  for (const ma of node.getMultiaddrs()) {
    const port = /\/tcp\/(\d+)/.exec(ma.toString())?.[1]
    if (port === undefined) continue
    await writeSavedPort(join(dataDir, LISTEN_PORT_FILE), Number(port))
    return
  }
}

/** True when libp2p could not listen on any address it was given (a port in use, an address not ours). */
export function isListenFailure(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'UnsupportedListenAddressesError'
}

/** The node could not listen where it was told to (its own words say where and what to do). */
export class ListenError extends Error {
  override name = 'ListenError'
}
