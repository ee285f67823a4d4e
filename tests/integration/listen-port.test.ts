/**
 * A node told nowhere to listen keeps its p2p port across restarts, so a QR code printed before a restart
 * still reaches it; when that port is taken it moves and says so; an address it was given and cannot
 * use fails the start with words that say what to do.
 */
import { createServer, type Server } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createConsoleService, type ConsoleService } from '../../main/service/index.ts'
import { savedListenPort } from '../../main/service/listen-port.ts'

function tcpPort(service: ConsoleService): number {
  const addr = service.multiaddrs().find((a) => a.includes('/tcp/'))
  return Number(/\/tcp\/(\d+)/.exec(addr ?? '')?.[1])
}

async function occupy(port: number): Promise<Server> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '0.0.0.0', resolve)
  })
  return server
}

describe('the p2p port across restarts', () => {
  let dir: string
  const running: ConsoleService[] = []
  const servers: Server[] = []

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-port-'))
  })
  afterEach(async () => {
    await Promise.allSettled(running.splice(0).map(async (s) => s.stop()))
    await Promise.allSettled(servers.splice(0).map(async (s) => new Promise((r) => s.close(r))))
    await rm(dir, { recursive: true, force: true })
  })

  async function start(init: { listen?: string[]; warnings?: string[] } = {}): Promise<ConsoleService> {
    const service = await createConsoleService({
      dataDir: dir,
      mdns: false,
      tallyDb: false,
      ...(init.listen === undefined ? {} : { listen: init.listen }),
      onWarning: (words) => init.warnings?.push(words)
    })
    running.push(service)
    await service.start()
    return service
  }

  it('the first run takes a free port and the next run the same one', async () => {
    const first = await start()
    const port = tcpPort(first)
    expect(port).toBeGreaterThan(0)
    expect(await savedListenPort(dir)).toBe(port)
    await first.stop()
    const again = await start()
    expect(tcpPort(again)).toBe(port)
  })

  it('a saved port taken by another program: another port, a warning, and the new one saved', async () => {
    const first = await start()
    const port = tcpPort(first)
    await first.stop()
    servers.push(await occupy(port))
    const warnings: string[] = []
    const again = await start({ warnings })
    expect(tcpPort(again)).not.toBe(port)
    expect(warnings).toEqual([expect.stringContaining(`port ${port} of the last run is in use`)])
    expect(await savedListenPort(dir)).toBe(tcpPort(again))
  })

  it('an address it was given and cannot use: ListenError naming it, and what to do', async () => {
    const server = await occupy(0)
    servers.push(server)
    const port = (server.address() as { port: number }).port
    const listen = [`/ip4/127.0.0.1/tcp/${port}`]
    const failed = await start({ listen }).then(
      () => undefined,
      (err: unknown) => err as Error
    )
    expect(failed?.name).toBe('ListenError')
    expect(failed?.message).toContain(`could not listen on ${listen[0]}`)
    expect(failed?.message).toContain('choose another --listen')
  })
})
