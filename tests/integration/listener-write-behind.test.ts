/**
 * A listener answers with a new tally before its draft and document reach the disk, and confirms it only
 * once they have: the response does not wait for two durable writes, and a crash in between leaves a tally
 * nobody confirmed (the dialer's verdict query is refused; it ends the tally abandoned). It does so only
 * while no other draft is being written: in a rush, answers wait for the batch they joined. A dialer that
 * provisions (foil), and a listener whose counterparty opens the document over libp2p, still wait.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { PROTOCOL_ID, PROTOCOL_ID_V1_0 } from '../../main/bootstrap/index.ts'
import type { Direction, HookContext, ProvisionResult } from '../../main/bootstrap/index.ts'
import type { TallyDb } from '../../main/tallydb/index.ts'
import { DbWorld } from '../helpers/tallydb-party.ts'
import type { DbParty } from '../helpers/tallydb-party.ts'

function ctxOf(
  sessionId: string,
  direction: Direction,
  remotePeerId: string,
  protocol = PROTOCOL_ID
): HookContext {
  return { sessionId, direction, remotePeerId, protocol, signal: new AbortController().signal }
}

/** The provisioning hooks of `a`'s store, as its SessionManager calls them for a session with `peer`. */
function hooksOf(a: DbParty): ReturnType<DbParty['store']['hooks']> {
  return a.store.hooks({ peerId: a.peerId, multiaddrs: a.addrs })
}

/** A (listening, stock) provisions the tally of its session `s1` with B. */
async function answerAsListener(
  hooks: ReturnType<DbParty['store']['hooks']>,
  a: DbParty,
  b: DbParty
): Promise<ProvisionResult> {
  return hooks.provisionDatabase('stock', b.peerId, a.peerId, 's1', ctxOf('s1', 'inbound', b.peerId))
}

/** `db`'s next document write fails as a full disk would (the document is still made). */
function failNextStore(db: TallyDb): void {
  const prepare = db.prepare.bind(db)
  db.prepare = (input) => {
    db.prepare = prepare
    const made = prepare(input)
    // the real write still runs; what the hooks see is its failure
    const stored = made.stored.then(() => {
      throw Object.assign(new Error('no space left on device'), { name: 'DiskFullError' })
    })
    return { ...made, stored }
  }
}

/** `db`'s next document reaches the disk only once `release` is called. */
function holdNextStore(db: TallyDb): () => void {
  const prepare = db.prepare.bind(db)
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  db.prepare = (input) => {
    db.prepare = prepare
    const made = prepare(input)
    return { ...made, stored: Promise.all([made.stored, released]).then(() => {}) }
  }
  return () => release()
}

describe('a listener answers before its draft is on disk', () => {
  const world = new DbWorld()
  afterEach(async () => world.close())

  it('answers with the document in hand, says "unsettled" meanwhile, and confirms once both are on disk', async () => {
    const a = await world.party()
    const b = await world.party()
    const hooks = hooksOf(a)
    const result = await answerAsListener(hooks, a, b)
    const { tallyId } = result.tally
    expect(result.dbConnectionInfo.document).toBeDefined()
    // the answer left before the disk had the document; the draft is listed but has no line of its own
    expect(a.store.listTallies().map((t) => t.status)).toEqual(['draft'])
    expect(a.db.has(tallyId)).toBe(false)
    // a verdict query meanwhile: ask again later (never a refusal, which would end the dialer's tally)
    expect(a.store.verdictFor(tallyId, b.peerId)).toBe('unsettled')
    expect(a.store.verdictFor(tallyId, a.peerId)).toBeUndefined()
    await hooks.settleTally!(tallyId, 'confirmed', ctxOf('s1', 'inbound', b.peerId))
    expect(a.store.listTallies().map((t) => t.status)).toEqual(['confirmed'])
    expect(a.db.has(tallyId)).toBe(true)
    expect(a.store.verdictFor(tallyId, b.peerId)).toBe('confirmed')
  })

  it('in a rush it waits: a draft made while another is on its way to disk answers once it is written itself', async () => {
    const a = await world.party()
    const b = await world.party()
    const c = await world.party()
    const hooks = hooksOf(a)
    const release = holdNextStore(a.db)
    const first = await answerAsListener(hooks, a, b)
    expect(a.db.has(first.tally.tallyId)).toBe(false)
    // the first one's write is still in flight: the second joins the disk's next batch and answers after it
    const second = await hooks.provisionDatabase(
      'stock',
      c.peerId,
      a.peerId,
      's2',
      ctxOf('s2', 'inbound', c.peerId)
    )
    expect(second.dbConnectionInfo.document).toBeDefined()
    expect(a.db.has(second.tally.tallyId)).toBe(true)
    expect(a.store.listTallies().map((t) => t.tallyId)).toContain(second.tally.tallyId)
    release()
    await hooks.settleTally!(first.tally.tallyId, 'confirmed', ctxOf('s1', 'inbound', b.peerId))
    expect(a.db.has(first.tally.tallyId)).toBe(true)
    // once nothing is being written, a lone draft answers first again
    const third = await answerAsListener(hooks, a, c)
    expect(a.db.has(third.tally.tallyId)).toBe(false)
  })

  it('a dialer that provisions (foil) and a listener whose counterparty opens the document over libp2p wait', async () => {
    const a = await world.party()
    const b = await world.party()
    const foil = await hooksOf(b).provisionDatabase(
      'foil',
      b.peerId,
      a.peerId,
      'f1',
      ctxOf('f1', 'outbound', a.peerId)
    )
    expect(b.store.listTallies().map((t) => t.tallyId)).toEqual([foil.tally.tallyId])
    expect(b.db.has(foil.tally.tallyId)).toBe(true)
    const old = await hooksOf(a).provisionDatabase(
      'stock',
      b.peerId,
      a.peerId,
      'o1',
      ctxOf('o1', 'inbound', b.peerId, PROTOCOL_ID_V1_0)
    )
    expect(old.dbConnectionInfo.document).toBeUndefined()
    expect(a.store.listTallies().map((t) => t.tallyId)).toEqual([old.tally.tallyId])
    expect(a.db.has(old.tally.tallyId)).toBe(true)
  })

  it('a draft whose write fails is never confirmed: the confirmation fails and the tally ends abandoned', async () => {
    const a = await world.party()
    const b = await world.party()
    const hooks = hooksOf(a)
    failNextStore(a.db)
    const result = await answerAsListener(hooks, a, b)
    const { tallyId } = result.tally
    const confirming = hooks.settleTally!(tallyId, 'confirmed', ctxOf('s1', 'inbound', b.peerId))
    await expect(confirming).rejects.toMatchObject({ name: 'DiskFullError' })
    // the session's cleanup abandons it too: nothing changes any more
    await hooks.settleTally!(tallyId, 'abandoned', ctxOf('s1', 'inbound', b.peerId))
    expect(a.store.listTallies().map((t) => t.status)).toEqual(['abandoned'])
    expect(a.store.verdictFor(tallyId, b.peerId)).toBe('abandoned')
  })

  it('a peer that leaves while the confirmation waits for the disk gets no confirmation', async () => {
    const a = await world.party()
    const b = await world.party()
    const hooks = hooksOf(a)
    const release = holdNextStore(a.db)
    const result = await answerAsListener(hooks, a, b)
    const { tallyId } = result.tally
    const session = new AbortController()
    const confirming = hooks.settleTally!(tallyId, 'confirmed', {
      ...ctxOf('s1', 'inbound', b.peerId),
      signal: session.signal
    })
    session.abort(Object.assign(new Error('the other party left'), { name: 'StreamClosedError' }))
    release()
    await expect(confirming).rejects.toMatchObject({ name: 'StreamClosedError' })
    expect(a.store.listTallies().map((t) => t.status)).toEqual(['draft'])
    await hooks.settleTally!(tallyId, 'abandoned', ctxOf('s1', 'inbound', b.peerId))
    expect(a.store.listTallies().map((t) => t.status)).toEqual(['abandoned'])
  })
})
