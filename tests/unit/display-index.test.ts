/** A customer display is looked up from its index, not by scanning every token of the node per event. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { HookContext } from '../../main/bootstrap/types.ts'
import type { SessionEvent, TokenView } from '../../preload/contract.ts'
import { Displays } from '../../main/service/displays.ts'
import { openStore } from '../../main/store/merchant-store.ts'
import type { LowdbMerchantStore } from '../../main/store/merchant-store.ts'
import { tokenCtx } from '../helpers/hook-context.ts'

const node = { peerId: 'peer-A', multiaddrs: () => ['/ip4/127.0.0.1/tcp/4001/p2p/peer-A'] }

function ctx(sessionId: string): HookContext {
  return { sessionId, direction: 'inbound', remotePeerId: 'peer-B', signal: new AbortController().signal }
}

function done(sessionId: string, tokenId: string): SessionEvent {
  return {
    sessionId,
    direction: 'inbound',
    state: 'L_DONE',
    previousState: 'L_AWAIT_ACK',
    at: Date.now(),
    peerId: 'peer-B',
    tokenId
  }
}

describe('customer display index', () => {
  let dir: string
  let store: LowdbMerchantStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-display-index-'))
    store = await openStore(dir)
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** Wire the store's token events to the displays, as the console runtime does. */
  function displaysOf(of: () => LowdbMerchantStore): Displays {
    const displays = new Displays({ store: of, linkFor: () => 'taleus:test', push: () => {} })
    of().addEventListener('token', (e) => displays.onToken((e as CustomEvent<TokenView>).detail))
    return displays
  }

  /** One customer: the display's current token used up, its session done, its successor minted. */
  async function serve(displays: Displays, displayId: string, n: number): Promise<TokenView> {
    const current = displays.get(displayId)
    const hooks = store.hooks(node)
    const info = await hooks.validateToken(store.tokenSecret(current.tokenId), ctx(`s${n}`))
    await hooks.markTokenUsed!('token-text', `s${n}`, tokenCtx(ctx(`s${n}`), info))
    return new Promise<TokenView>((resolve) => displays.onSession(done(`s${n}`, current.tokenId), resolve))
  }

  it('follows many customers with one scan of the tokens', async () => {
    const displays = displaysOf(() => store)
    const { view: first } = await store.createToken({ role: 'stock', label: 'Till', mode: 'per-customer' })
    const displayId = first.displayId as string
    // another display and plain tokens the index must not mix in
    await store.createToken({ role: 'stock', label: 'Door', mode: 'per-customer' })
    await store.createToken({ role: 'foil', uses: 'unlimited' })
    const scans = vi.spyOn(store, 'listTokens')

    let next: TokenView | undefined
    for (let n = 0; n < 25; n++) next = await serve(displays, displayId, n)
    const view = displays.get(displayId)
    expect(view).toMatchObject({ tokenId: next?.tokenId, served: 25, label: 'Till', closed: false })
    expect(scans.mock.calls.length).toBeLessThanOrEqual(1)

    // a token of the display minted elsewhere (another node of a cadre) arrives as a store event
    const { view: minted } = await store.createToken({
      role: 'stock',
      label: 'Till',
      mode: 'per-customer',
      displayId
    } as never)
    expect(displays.get(displayId)).toMatchObject({ tokenId: minted.tokenId, served: 25 })
    expect(scans.mock.calls.length).toBeLessThanOrEqual(1)

    const closed = await displays.close(displayId, async (tokenId) => store.revokeToken(tokenId))
    expect(closed).toMatchObject({ tokenId: minted.tokenId, closed: true, served: 25 })
  })

  it('a store opened again is scanned afresh: the served count and the current QR survive a restart', async () => {
    let open = store
    const displays = displaysOf(() => open)
    const { view: first } = await store.createToken({ role: 'stock', label: 'Till', mode: 'per-customer' })
    const displayId = first.displayId as string
    let next: TokenView | undefined
    for (let n = 0; n < 3; n++) next = await serve(displays, displayId, n)
    await store.close()
    store = await openStore(dir)
    open = store
    expect(displays.get(displayId)).toMatchObject({ tokenId: next?.tokenId, served: 3 })
    expect(() => displays.get('dp_none')).toThrow(expect.objectContaining({ code: 'not-found' }))
  })
})
