import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { HookContext } from '../../main/bootstrap/types.ts'
import type { TokenView } from '../../preload/contract.ts'
import { tokenCtx } from '../helpers/hook-context.ts'
import { storeKinds } from '../helpers/stores.ts'
import type { TestStore } from '../helpers/stores.ts'

const node = { peerId: 'peer-A', multiaddrs: () => ['/ip4/127.0.0.1/tcp/4001/p2p/peer-A'] }

function ctx(sessionId: string, signal = new AbortController().signal): HookContext {
  return { sessionId, direction: 'inbound', remotePeerId: 'peer-B', signal }
}

async function rejection(p: Promise<unknown>): Promise<{ name: string; reason?: string }> {
  try {
    await p
  } catch (err) {
    return { name: (err as Error).name, reason: (err as { reason?: string }).reason }
  }
  throw new Error('expected a rejection')
}

describe.each(storeKinds())('store tokens ($name)', (kind) => {
  let dir: string
  let store: TestStore
  let clock: number

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-store-'))
    clock = 1_700_000_000_000
    store = await kind.open(dir, { now: () => clock })
  })

  afterEach(async () => {
    await store.close()
    await kind.cleanup()
    await rm(dir, { recursive: true, force: true })
  })

  it('creates a token whose text validates and is never stored in clear', async () => {
    const { view, token } = await store.createToken({
      role: 'stock',
      label: 'counter 1',
      identityRequirements: ['email']
    })
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(view).toMatchObject({
      role: 'stock',
      label: 'counter 1',
      uses: 1,
      used: 0,
      status: 'active',
      expiresAt: null,
      approval: 'auto',
      approvalTimeoutMs: 120_000
    })
    expect(store.tokenSecret(view.tokenId)).toBe(token)
    const info = await store.hooks(node).validateToken(token, ctx('s1'))
    expect(info).toMatchObject({
      tokenId: view.tokenId,
      role: 'stock',
      identityRequirements: ['email'],
      label: 'counter 1'
    })
    if (kind.name === 'lowdb') {
      const onDisk = await readFile(join(dir, 'tokens.json'), 'utf8')
      expect(onDisk).toContain(view.tokenId)
      expect(onDisk).not.toContain(token)
    }
    expect(store.getToken(view.tokenId)).toEqual(view)
    expect(store.listTokens().map((t) => t.tokenId)).toEqual([view.tokenId])
  })

  it('rejects unknown, revoked, expired and used-up tokens with their reasons, without consuming', async () => {
    const hooks = store.hooks(node)
    expect(await rejection(hooks.validateToken('not-a-token', ctx('s0')))).toEqual({
      name: 'RejectedError',
      reason: 'invalid-token'
    })
    expect(await rejection(hooks.validateToken('x'.repeat(10_000), ctx('s0')))).toEqual({
      name: 'RejectedError',
      reason: 'invalid-token'
    })

    const revoked = await store.createToken({ role: 'stock' })
    const view = await store.revokeToken(revoked.view.tokenId)
    expect(view.status).toBe('revoked')
    expect(await rejection(hooks.validateToken(revoked.token, ctx('s1')))).toEqual({
      name: 'RejectedError',
      reason: 'token-revoked'
    })

    const expiring = await store.createToken({ role: 'foil', expiresInMs: 60_000 })
    expect((await hooks.validateToken(expiring.token, ctx('s2')))?.expiryUtc).toBe(
      new Date(clock + 60_000).toISOString()
    )
    clock += 60_000
    expect(await rejection(hooks.validateToken(expiring.token, ctx('s2')))).toEqual({
      name: 'RejectedError',
      reason: 'token-expired'
    })
    expect(store.getToken(expiring.view.tokenId)?.status).toBe('expired')

    const single = await store.createToken({ role: 'stock', uses: 1 })
    const info = await hooks.validateToken(single.token, ctx('s3'))
    await hooks.validateToken(single.token, ctx('s3b'))
    expect(store.getToken(single.view.tokenId)?.used).toBe(0)
    await hooks.markTokenUsed?.('token-text', 's3', tokenCtx(ctx('s3'), info))
    expect(store.getToken(single.view.tokenId)).toMatchObject({ used: 1, status: 'used-up' })
    expect(await rejection(hooks.validateToken(single.token, ctx('s4')))).toEqual({
      name: 'RejectedError',
      reason: 'token-used'
    })
    expect(await rejection(hooks.markTokenUsed!('token-text', 's4', tokenCtx(ctx('s4'), info)))).toEqual({
      name: 'RejectedError',
      reason: 'token-used'
    })
  })

  it('orders derived status revoked > expired > used-up', async () => {
    const { view, token } = await store.createToken({ role: 'stock', expiresInMs: 10 })
    const hooks = store.hooks(node)
    await hooks.markTokenUsed!(
      'token-text',
      's1',
      tokenCtx(ctx('s1'), await hooks.validateToken(token, ctx('s1')))
    )
    expect(store.getToken(view.tokenId)?.status).toBe('used-up')
    clock += 10
    expect(store.getToken(view.tokenId)?.status).toBe('expired')
    await store.revokeToken(view.tokenId)
    expect(store.getToken(view.tokenId)?.status).toBe('revoked')
  })

  it('single-use race: of 100 concurrent markTokenUsed exactly one wins', async () => {
    const { view, token } = await store.createToken({ role: 'stock', uses: 1 })
    const hooks = store.hooks(node)
    const infos = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => hooks.validateToken(token, ctx(`race-${i}`)))
    )
    const results = await Promise.allSettled(
      infos.map(async (info, i) =>
        hooks.markTokenUsed!('token-text', `race-${i}`, tokenCtx(ctx(`race-${i}`), info))
      )
    )
    const won = results.filter((r) => r.status === 'fulfilled')
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(won).toHaveLength(1)
    expect(lost).toHaveLength(99)
    expect(new Set(lost.map((r) => `${r.reason.name}:${r.reason.reason}`))).toEqual(
      new Set(['RejectedError:token-used'])
    )
    expect(store.getToken(view.tokenId)?.used).toBe(1)
    if (kind.name === 'lowdb') {
      const onDisk = JSON.parse(await readFile(join(dir, 'tokens.json'), 'utf8')) as {
        tokens: Record<string, { used: number }>
      }
      expect(onDisk.tokens[view.tokenId]?.used).toBe(1)
    }
  })

  it('a multi-use token gives exactly N uses under a rush; release gives back only a held use', async () => {
    const { view, token } = await store.createToken({ role: 'stock', uses: 3 })
    const hooks = store.hooks(node)
    const info = await hooks.validateToken(token, ctx('m'))
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, async (_, i) =>
        hooks.markTokenUsed!('token-text', `m-${i}`, tokenCtx(ctx(`m-${i}`), info))
      )
    )
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []))
    expect(winners).toHaveLength(3)
    // a session that holds no use gives nothing back, and a double release gives back once
    await hooks.releaseToken!('token-text', 'm-none', tokenCtx(ctx('m-none'), info))
    expect(store.getToken(view.tokenId)?.used).toBe(3)
    await hooks.releaseToken!('token-text', `m-${winners[0]}`, tokenCtx(ctx(`m-${winners[0]}`), info))
    await hooks.releaseToken!('token-text', `m-${winners[0]}`, tokenCtx(ctx(`m-${winners[0]}`), info))
    expect(store.getToken(view.tokenId)).toMatchObject({ used: 2, status: 'active' })
  })

  it('unlimited tokens never run out', async () => {
    const { view, token } = await store.createToken({ role: 'foil', uses: 'unlimited' })
    const hooks = store.hooks(node)
    const info = await hooks.validateToken(token, ctx('u'))
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) =>
        hooks.markTokenUsed!('token-text', `u-${i}`, tokenCtx(ctx(`u-${i}`), info))
      )
    )
    expect(store.getToken(view.tokenId)).toMatchObject({ used: 50, status: 'active' })
  })

  it('emits token events on create, use and revoke', async () => {
    const seen: Array<Pick<TokenView, 'status' | 'used'>> = []
    store.addEventListener('token', (e) => seen.push({ status: e.detail.status, used: e.detail.used }))
    const { view, token } = await store.createToken({ role: 'stock', uses: 2 })
    const hooks = store.hooks(node)
    await hooks.markTokenUsed!(
      'token-text',
      'e1',
      tokenCtx(ctx('e1'), await hooks.validateToken(token, ctx('e1')))
    )
    await store.revokeToken(view.tokenId)
    expect(seen).toEqual([
      { status: 'active', used: 0 },
      { status: 'active', used: 1 },
      { status: 'revoked', used: 1 }
    ])
  })

  it('refuses bad input and unknown ids', async () => {
    expect((await rejection(store.createToken({ role: 'nope' as 'stock' }))).name).toBe('StoreInputError')
    expect((await rejection(store.createToken({ role: 'stock', uses: 0 }))).name).toBe('StoreInputError')
    expect(
      (await rejection(store.createToken({ role: 'stock', identityRequirements: ['__proto__ x'] }))).name
    ).toBe('StoreInputError')
    expect((await rejection(store.revokeToken('tk_missing'))).name).toBe('UnknownTokenError')
    expect(() => store.tokenSecret('__proto__')).toThrow(
      expect.objectContaining({ name: 'UnknownTokenError' })
    )
    expect(store.getToken('__proto__')).toBeUndefined()
    expect(store.listTokens()).toEqual([])
  })
})
