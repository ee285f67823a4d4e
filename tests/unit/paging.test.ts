import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as v from 'valibot'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { HookContext } from '../../main/bootstrap/types.ts'
import { INPUT_SCHEMAS } from '../../main/api/schemas.ts'
import { pageOf } from '../../main/store/paging.ts'
import { LIST_DEFAULT_LIMIT } from '../../preload/contract.ts'
import { storeKinds } from '../helpers/stores.ts'
import type { TestStore } from '../helpers/stores.ts'

const A = { peerId: 'peer-A', multiaddrs: () => ['/ip4/127.0.0.1/tcp/4001/p2p/peer-A'] }

function ctx(sessionId: string): HookContext {
  return { sessionId, direction: 'inbound', remotePeerId: 'peer-B', signal: new AbortController().signal }
}

describe.each(storeKinds())('paged lists ($name)', (kind) => {
  let dir: string
  let store: TestStore
  let clock = 1_000
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-paging-'))
    store = await kind.open(dir, { now: () => clock })
  })
  afterEach(async () => {
    await store.close()
    await kind.cleanup()
    await rm(dir, { recursive: true, force: true })
  })

  it('listTallies answers a bounded page, newest first, and a cursor walks every tally once (ties included)', async () => {
    const hooks = store.hooks(A)
    for (let i = 0; i < 1200; i++) {
      // three tallies per millisecond: a cursor on time alone would skip some
      clock = 1_000 + Math.floor(i / 3)
      await hooks.provisionDatabase('stock', 'peer-B', 'peer-A', `s${i}`, ctx(`s${i}`))
    }
    expect(store.listTallies({})).toHaveLength(LIST_DEFAULT_LIMIT)
    // in-process callers without a query still get every tally
    expect(store.listTallies()).toHaveLength(1200)
    const seen = new Set<string>()
    let page = store.listTallies({ limit: 250 })
    for (let n = 0; page.length > 0 && n < 10; n++) {
      for (const t of page) seen.add(t.tallyId)
      expect(page.every((t, i) => i === 0 || page[i - 1]!.createdAt >= t.createdAt)).toBe(true)
      const last = page.at(-1)!
      page = store.listTallies({ limit: 250, before: last.createdAt, beforeId: last.tallyId })
    }
    expect(seen.size).toBe(1200)
  })

  it('the API accepts a page query (and none) for tallies and sessions, and refuses a huge limit', () => {
    for (const name of ['listTallies', 'listSessions'] as const) {
      expect(v.safeParse(INPUT_SCHEMAS[name], undefined).success).toBe(true)
      expect(v.safeParse(INPUT_SCHEMAS[name], { limit: 10, before: 5, beforeId: 'x' }).success).toBe(true)
      expect(v.safeParse(INPUT_SCHEMAS[name], { limit: 1e9 }).success).toBe(false)
    }
    expect(pageOf([3, 1, 2], (n) => n, String, { limit: 2 })).toEqual([3, 2])
  })
})
