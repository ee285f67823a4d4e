/**
 * A TCP proxy in the test process between a cadre store and the PostgreSQL server, so that a test can make
 * "the server" go away (every connection cut, new ones refused) and come back without touching anyone
 * else's connections to the shared server.
 */
import { createConnection, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'

/** A proxy to one PostgreSQL server; `url` is the server's URL with the proxy's port. */
export class PgProxy {
  readonly url: string
  #server: Server
  #port: number
  #sockets = new Set<Socket>()

  private constructor(server: Server, port: number, url: string) {
    this.#server = server
    this.#port = port
    this.url = url
  }

  /** Listens on 127.0.0.1 (a free port) and forwards to the server of `pgUrl`. */
  static async start(pgUrl: string): Promise<PgProxy> {
    const target = new URL(pgUrl)
    const sockets = new Set<Socket>()
    const server = createServer((client) => {
      const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) })
      for (const s of [client, upstream]) {
        sockets.add(s)
        s.on('close', () => sockets.delete(s))
        s.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
    const port = (server.address() as { port: number }).port
    const url = new URL(pgUrl)
    url.hostname = '127.0.0.1'
    url.port = String(port)
    const proxy = new PgProxy(server, port, url.toString())
    proxy.#sockets = sockets
    return proxy
  }

  /** The server is gone: every open connection is reset and new ones are refused. */
  async cut(): Promise<void> {
    const closed = new Promise<void>((res) => this.#server.close(() => res()))
    for (const s of this.#sockets) s.resetAndDestroy()
    await closed
  }

  /** The server is back, on the same address. */
  async restore(): Promise<void> {
    await new Promise<void>((res) => this.#server.listen(this.#port, '127.0.0.1', res))
  }

  async stop(): Promise<void> {
    if (this.#server.listening) await this.cut()
  }
}
