import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createTaleusNode, loadOrCreatePrivateKey } from '../../main/node/index.ts'

describe('taleus node', () => {
  const dirs: string[] = []
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
  })

  it('persists its Ed25519 key (mode 0600) so the peer id survives a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'taleus-key-'))
    dirs.push(dir)
    const file = join(dir, 'nested', 'peer.key')
    const first = await loadOrCreatePrivateKey(file)
    expect(first.type).toBe('Ed25519')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const second = await loadOrCreatePrivateKey(file)
    expect(peerIdFromPrivateKey(second).toString()).toBe(peerIdFromPrivateKey(first).toString())

    const node = await createTaleusNode({ privateKey: second })
    try {
      expect(node.peerId.toString()).toBe(peerIdFromPrivateKey(first).toString())
      const addrs = node.getMultiaddrs().map(String)
      expect(addrs.length).toBeGreaterThan(0)
      expect(addrs.every((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true)
    } finally {
      await node.stop()
    }
  })
})
