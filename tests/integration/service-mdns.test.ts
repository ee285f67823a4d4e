/** Two console services with mDNS on: each lists the other as a nearby peer found by mDNS. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createConsoleService, type ConsoleService } from '../../main/service/index.ts'

describe('console service peers over mDNS', () => {
  let dirs: string[] = []
  let services: ConsoleService[] = []

  beforeAll(async () => {
    dirs = await Promise.all([0, 1].map(() => mkdtemp(join(tmpdir(), 'taleus-mdns-'))))
    services = await Promise.all(
      dirs.map((dataDir) => createConsoleService({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: true }))
    )
    await Promise.all(services.map((s) => s.start()))
  })

  afterAll(async () => {
    await Promise.allSettled(services.map((s) => s.stop()))
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
  })

  it('finds the other node without connecting to it', async () => {
    const [a, b] = services as [ConsoleService, ConsoleService]
    await vi.waitFor(
      async () => {
        const peer = (await a.listPeers()).find((p) => p.peerId === b.peerId)
        expect(peer).toMatchObject({ source: 'mdns', connected: false })
        expect(peer?.multiaddrs.length).toBeGreaterThan(0)
      },
      { timeout: 20_000, interval: 100 }
    )
    expect((await a.getNodeInfo()).mdns).toBe(true)
  })
})
