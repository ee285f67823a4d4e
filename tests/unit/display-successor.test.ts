/** A customer display's successor token keeps the used token's settings, its standing terms among them. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { HookContext } from '../../main/bootstrap/types.ts'
import type { SessionEvent, TokenView } from '../../preload/contract.ts'
import { Displays } from '../../main/service/displays.ts'
import { tokenCtx } from '../helpers/hook-context.ts'
import { storeKinds } from '../helpers/stores.ts'
import type { TestStore } from '../helpers/stores.ts'

const node = { peerId: 'peer-A', multiaddrs: () => ['/ip4/127.0.0.1/tcp/4001/p2p/peer-A'] }

function ctx(sessionId: string): HookContext {
  return { sessionId, direction: 'inbound', remotePeerId: 'peer-B', signal: new AbortController().signal }
}

describe.each(storeKinds())('customer display successor ($name)', (kind) => {
  let dir: string
  let store: TestStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-display-'))
    store = await kind.open(dir)
  })

  afterEach(async () => {
    await store.close()
    await kind.cleanup()
    await rm(dir, { recursive: true, force: true })
  })

  it('mints the next token with the standing terms of the used one', async () => {
    const terms = { stockCreditLimit: 500, foilCreditLimit: 20, unit: 'CHIP', note: 'Pay by the 1st' }
    const { view, token } = await store.createToken({
      role: 'stock',
      label: 'Till',
      mode: 'per-customer',
      terms
    })
    expect(view.terms).toEqual(terms)
    // the customer's session uses the token up
    const hooks = store.hooks(node)
    const info = await hooks.validateToken(token, ctx('s1'))
    await hooks.markTokenUsed!('token-text', 's1', tokenCtx(ctx('s1'), info))
    expect(store.getToken(view.tokenId)?.status).toBe('used-up')

    const displays = new Displays({ store: () => store, linkFor: () => 'taleus:test', push: () => {} })
    const next = new Promise<TokenView>((resolve) => {
      const done: SessionEvent = {
        sessionId: 's1',
        direction: 'inbound',
        state: 'L_DONE',
        previousState: 'L_AWAIT_ACK',
        at: Date.now(),
        peerId: 'peer-B',
        tokenId: view.tokenId
      }
      displays.onSession(done, resolve)
    })
    const successor = await next
    expect(successor.tokenId).not.toBe(view.tokenId)
    expect(successor.displayId).toBe(view.displayId)
    expect(successor.terms).toEqual(terms)
    expect(store.getToken(successor.tokenId)?.terms).toEqual(terms)
  })
})
