/** A token that expires while the console is open: every screen hears it, without a reload. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createConsoleService, type ConsoleService } from '../../main/service/index.ts'
import type { ConsoleEvent, TokenView } from '../../preload/contract.ts'

describe('token expiry on a running console', () => {
  let service: ConsoleService | undefined
  let dir = ''
  afterEach(async () => {
    await service?.stop()
    service = undefined
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('pushes the token as expired when its expiry passes, and only that one', async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-expiry-'))
    service = await createConsoleService({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    await service.start()
    const seen: TokenView[] = []
    const off = service.subscribe((batch: ConsoleEvent[]) => {
      for (const e of batch) if (e.kind === 'token') seen.push(e.token)
    })
    const soon = await service.createToken({ role: 'stock', label: 'Soon', expiresInMs: 600 })
    const later = await service.createToken({ role: 'stock', label: 'Later', expiresInMs: 3_600_000 })
    await expect
      .poll(() => seen.find((t) => t.tokenId === soon.tokenId && t.status === 'expired'), {
        timeout: 5000
      })
      .toBeDefined()
    expect(seen.some((t) => t.tokenId === later.tokenId && t.status !== 'active')).toBe(false)
    off()
  })
})
