/** The rush's hot path: step signals without AbortSignal.any, lazy counts of unlimited tokens, batch folding. */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Deadline, scopedSignal } from '../../main/bootstrap/abort.ts'
import type { HookContext } from '../../main/bootstrap/types.ts'
import { EventBatcher } from '../../main/service/event-batcher.ts'
import { openStore } from '../../main/store/index.ts'
import type { LowdbMerchantStore } from '../../main/store/index.ts'
import type { ConsoleEvent, TallyView, TokenView } from '../../preload/contract.ts'
import { tokenCtx } from '../helpers/hook-context.ts'

const A = { peerId: 'peer-A', multiaddrs: () => ['/ip4/127.0.0.1/tcp/4001/p2p/peer-A'] }

function ctx(sessionId: string): HookContext {
  return { sessionId, direction: 'inbound', remotePeerId: 'peer-B', signal: new AbortController().signal }
}

function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true })
  )
}

async function usedOnDisk(dir: string, tokenId: string): Promise<number> {
  const file = JSON.parse(await readFile(join(dir, 'tokens.json'), 'utf8')) as {
    tokens: Record<string, { used: number }>
  }
  return file.tokens[tokenId]?.used ?? -1
}

describe('scopedSignal', () => {
  it('aborts with a TimeoutError when its time runs out', async () => {
    const scope = scopedSignal(new AbortController().signal, 1)
    const reason = (await aborted(scope.signal)) as { name: string; reason: string }
    expect(reason.name).toBe('TimeoutError')
    expect(reason.reason).toBe('timeout')
  })

  it("follows the parent's abort with the parent's reason", () => {
    const parent = new AbortController()
    const scope = scopedSignal(parent.signal, 60_000)
    const why = new Error('stopped')
    parent.abort(why)
    expect(scope.signal.aborted).toBe(true)
    expect(scope.signal.reason).toBe(why)
    scope.clear()
  })

  it('is born aborted under an aborted parent', () => {
    const parent = new AbortController()
    parent.abort(new Error('gone'))
    expect(scopedSignal(parent.signal, 60_000).signal.aborted).toBe(true)
  })

  it('after clear() neither the parent nor the timer reaches it', async () => {
    const parent = new AbortController()
    const scope = scopedSignal(parent.signal, 1)
    scope.clear()
    parent.abort(new Error('later'))
    // a second, uncleared scope proves the 1 ms timer had its chance to fire
    await aborted(scopedSignal(new AbortController().signal, 5).signal)
    expect(scope.signal.aborted).toBe(false)
  })
})

describe('Deadline.follow', () => {
  it('aborts with the reason of a followed signal, and stops following on clear()', () => {
    const stop = new AbortController()
    const caller = new AbortController()
    const d1 = new Deadline(60_000)
    d1.follow(stop.signal)
    d1.follow(caller.signal)
    const why = new Error('caller gave up')
    caller.abort(why)
    expect(d1.signal.reason).toBe(why)
    d1.clear()

    const d2 = new Deadline(60_000)
    d2.follow(stop.signal)
    d2.clear()
    stop.abort(new Error('stop'))
    expect(d2.signal.aborted).toBe(false)
  })
})

describe('token use counts', () => {
  let dir: string
  let store: LowdbMerchantStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-hot-'))
    store = await openStore(dir)
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('a limited token: the use is on disk when markTokenUsed returns', async () => {
    const { view, token } = await store.createToken({ role: 'stock', uses: 3 })
    const hooks = store.hooks(A)
    const info = await hooks.validateToken(token, ctx('s1'))
    await hooks.markTokenUsed!('token-text', 's1', tokenCtx(ctx('s1'), info))
    expect(await usedOnDisk(dir, view.tokenId)).toBe(1)
  })

  it('an unlimited token: counted at once in memory, written lazily, and on close', async () => {
    const { view, token } = await store.createToken({ role: 'stock', uses: 'unlimited' })
    const hooks = store.hooks(A)
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const info = await hooks.validateToken(token, ctx(`u${i}`))
        await hooks.markTokenUsed!('token-text', `u${i}`, tokenCtx(ctx(`u${i}`), info))
      })
    )
    expect(store.getToken(view.tokenId)?.used).toBe(50)
    // a failed session gives its use back, also lazily
    await hooks.releaseToken!(
      'token-text',
      'u0',
      tokenCtx(ctx('u0'), { tokenId: view.tokenId, role: 'stock' })
    )
    expect(store.getToken(view.tokenId)?.used).toBe(49)
    await store.close()
    expect(await usedOnDisk(dir, view.tokenId)).toBe(49)
    store = await openStore(dir)
    expect(store.getToken(view.tokenId)?.used).toBe(49)
  })
})

describe('EventBatcher folding', () => {
  const token = (used: number): ConsoleEvent => ({
    kind: 'token',
    token: { tokenId: 'tk1', used } as TokenView
  })
  const tally = (tallyId: string, status: TallyView['status']): ConsoleEvent => ({
    kind: 'tally',
    tally: { tallyId, status } as TallyView
  })

  it('keeps one, latest, snapshot per token, tally and peer in a batch, in first-seen order', () => {
    const batcher = new EventBatcher()
    const batches: ConsoleEvent[][] = []
    batcher.subscribe((b) => batches.push(b))
    for (let i = 1; i <= 100; i++) batcher.push(token(i))
    batcher.push(tally('t1', 'draft'))
    batcher.push(tally('t2', 'draft'))
    batcher.push(tally('t1', 'confirmed'))
    batcher.push({
      kind: 'peer',
      peer: { peerId: 'p', multiaddrs: [], source: 'connection', connected: true, lastSeen: 1 }
    })
    batcher.push({
      kind: 'peer',
      peer: { peerId: 'p', multiaddrs: [], source: 'connection', connected: false, lastSeen: 2 }
    })
    batcher.flush()
    expect(batches).toHaveLength(1)
    const summary = (batches[0] as ConsoleEvent[]).map((e) =>
      e.kind === 'token'
        ? `token:${e.token.used}`
        : e.kind === 'tally'
          ? `tally:${e.tally.tallyId}:${e.tally.status}`
          : e.kind === 'peer'
            ? `peer:${String(e.peer.connected)}`
            : e.kind
    )
    expect(summary).toEqual(['token:100', 'tally:t1:confirmed', 'tally:t2:draft', 'peer:false'])
  })
})
