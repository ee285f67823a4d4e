/**
 * The bootstrap hands the tally's document over in its own frame (dbConnectionInfo.document): as a seed
 * both parties derive the same first state from (1.3.0), as bytes (1.1.0, 1.2.0); the opener holds its
 * replica when the bootstrap reports success with no tallydb stream opened; a listener that speaks only
 * 1.0.0 gets no such field and the opener falls back to opening the document over /taleus/tallydb/1.0.0; a
 * handed-over document that is not whole is refused, one of another tally is found out when it is first
 * loaded, and a seed that is not the provisioner's own first state is refused at the first sync.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Libp2p } from '@libp2p/interface'
import {
  MAX_INBOUND_STREAMS,
  PROTOCOL_ID,
  PROTOCOL_ID_V1_0,
  PROTOCOL_ID_V1_1,
  PROTOCOL_ID_V1_2,
  SessionManager,
  formatLink,
  parseLink
} from '../../main/bootstrap/index.ts'
import type { PartyRole, SessionHooks } from '../../main/bootstrap/index.ts'
import { TALLYDB_PROTOCOL } from '../../main/tallydb/index.ts'
import { docOf } from '../../main/tallydb/doc-bytes.ts'
import { acceptProposal, addProposal, stringFormOf } from '../../main/tallydb/tally-document.ts'
import type { StoredTallyDoc } from '../../main/tallydb/tally-document.ts'
import { change, load, save } from '@automerge/automerge'
import { TEST_CONFIG } from '../helpers/bootstrap-world.ts'
import { DbWorld } from '../helpers/tallydb-party.ts'
import type { DbParty } from '../helpers/tallydb-party.ts'

/** Streams of the tally database's protocol open on `node` now (a channel keeps its stream open). */
function tallyDbStreams(node: Libp2p): number {
  return node
    .getConnections()
    .flatMap((c) => c.streams)
    .filter((s) => s.protocol === TALLYDB_PROTOCOL).length
}

/** A listens with `hooks` in place of its store's, for the protocol versions in `protocols`. */
async function listenWith(a: DbParty, hooks: SessionHooks, protocols: string[]): Promise<SessionManager> {
  const manager = new SessionManager(hooks, {
    ...TEST_CONFIG,
    cadrePeerAddrs: a.addrs,
    localPeerId: a.peerId
  })
  await a.node.handle(protocols, (stream, connection) => manager.handleNewStream(stream, connection), {
    maxInboundStreams: MAX_INBOUND_STREAMS
  })
  return manager
}

/** Each bootstrap B starts with `link` is refused as `provision-failed`, one per `swaps` (set through `use`). */
async function refusedEach<D>(
  b: DbParty,
  link: ReturnType<typeof parseLink>,
  swaps: D[],
  use: (d: D) => void
): Promise<void> {
  for (const swap of swaps) {
    use(swap)
    await expect(b.manager.initiateBootstrap(link, b.node)).rejects.toMatchObject({
      name: 'RejectedError',
      reason: 'provision-failed'
    })
  }
}

async function linkOf(a: DbParty, role: PartyRole): Promise<ReturnType<typeof parseLink>> {
  const { view, token } = await a.store.createToken({ role, uses: 'unlimited' })
  return parseLink(formatLink({ token, role: view.role, responderPeerAddrs: a.addrs() }))
}

describe('the tally document handed over in the bootstrap frame', () => {
  const world = new DbWorld()
  afterEach(async () => world.close())

  it.each<PartyRole>(['stock', 'foil'])(
    '%s: the opener holds the document when the bootstrap succeeds, and no tallydb stream was opened',
    async (role) => {
      const a = await world.party({ listen: true })
      const b = await world.party()
      const { link } = await a.createToken({ role, uses: 'unlimited' })
      const result = await b.manager.initiateBootstrap(link, b.node)
      const tallyId = result.tally.tallyId
      // 1.3.0: a seed, no bytes
      expect(result.dbConnectionInfo.document).toEqual({
        id: expect.stringMatching(/^[1-9A-HJ-NP-Za-km-z]+$/),
        seed: '{"terms":{}}'
      })
      expect(tallyDbStreams(a.node) + tallyDbStreams(b.node)).toBe(0)
      const provisioner = role === 'stock' ? a : b
      const opener = role === 'stock' ? b : a
      const mine = await opener.db.read(tallyId)
      const theirs = await provisioner.db.read(tallyId)
      expect(mine?.connected).toBe(false)
      expect(mine?.documentId).toBe(theirs?.documentId)
      expect(mine?.document).toEqual(theirs?.document)
      expect(mine?.document.tally.tallyId).toBe(tallyId)
      // each side's tally index keeps what the first state is made from, not its bytes
      for (const p of [a, b]) {
        const index = await readFile(join(p.dir, 'tallydb', 'index.jsonl'), 'utf8')
        expect(index).toContain(`"first":{"tally":{"tallyId":"${tallyId}"`)
        expect(index).not.toContain('"doc":')
      }
      // both derived the same first state: each side's sync finds the other holds every change it holds
      // (different first changes would each be refused by the other as a second creation of the document)
      for (const p of [opener, provisioner])
        expect(await p.db.delivered(tallyId, { signal: AbortSignal.timeout(20_000) })).toBe(true)
      expect((await opener.db.read(tallyId))?.refused).toBeNull()
      expect((await provisioner.db.read(tallyId))?.refused).toBeNull()

      // a later change opens the channel and reaches the other side
      const proposal = await provisioner.db.propose(tallyId, { note: 'hello' })
      await expect
        .poll(async () => (await opener.db.read(tallyId))?.document.proposals[0]?.proposalId, {
          timeout: 20_000
        })
        .toBe(proposal.proposalId)
      expect(tallyDbStreams(opener.node)).toBe(1)
    }
  )

  it.each<PartyRole>(['stock', 'foil'])(
    '%s: with a listener that speaks only 1.0.0, the document is opened over the tallydb protocol',
    async (role) => {
      const a = await world.party()
      const b = await world.party()
      await listenWith(a, a.store.hooks({ peerId: a.peerId, multiaddrs: a.addrs }), [PROTOCOL_ID_V1_0])
      const result = await b.manager.initiateBootstrap(await linkOf(a, role), b.node)
      const tallyId = result.tally.tallyId
      // nothing of 1.1.0 travelled (in foil B's own result keeps it: B provisioned it): the opener opened
      // the document with its grant, on a channel
      if (role === 'stock') expect(result.dbConnectionInfo.document).toBeUndefined()
      expect(tallyDbStreams(a.node)).toBe(1)
      const opener = role === 'stock' ? b : a
      const provisioner = role === 'stock' ? a : b
      expect((await opener.db.read(tallyId))?.connected).toBe(true)
      expect((await opener.db.read(tallyId))?.document.tally).toEqual(
        (await provisioner.db.read(tallyId))?.document.tally
      )
    }
  )

  it.each<PartyRole>(['stock', 'foil'])(
    '%s: the frame carries a seed at 1.3.0, bytes of scalar strings at 1.2.0 and of text at 1.1.0',
    async (role) => {
      const a = await world.party()
      const b = await world.party()
      const formWith = async (protocols: string[]): Promise<string | undefined> => {
        const manager = await listenWith(
          a,
          a.store.hooks({ peerId: a.peerId, multiaddrs: a.addrs }),
          protocols
        )
        try {
          const result = await b.manager.initiateBootstrap(await linkOf(a, role), b.node)
          const handed = result.dbConnectionInfo.document
          expect(handed).toBeDefined()
          // both replicas read it the same whichever form it has
          const opener = role === 'stock' ? b : a
          expect((await opener.db.read(result.tally.tallyId))?.document.tally.tallyId).toBe(
            result.tally.tallyId
          )
          // 1.3.0 carries a seed, no bytes
          if (handed!.data === undefined) return handed!.seed === undefined ? undefined : 'seed'
          const doc = docOf(Buffer.from(handed!.data, 'base64'))
          expect(doc).toBeDefined()
          return stringFormOf(doc!)
        } finally {
          await a.node.unhandle(protocols)
          await manager.stop()
        }
      }
      expect(await formWith([PROTOCOL_ID_V1_1])).toBe('text')
      expect(await formWith([PROTOCOL_ID_V1_2, PROTOCOL_ID_V1_1])).toBe('scalar')
      expect(await formWith([PROTOCOL_ID, PROTOCOL_ID_V1_2])).toBe('seed')
    }
  )

  it('a provision whose document cannot be made leaves no draft behind', async () => {
    const a = await world.party()
    const b = await world.party()
    const hooks = a.store.hooks({ peerId: a.peerId, multiaddrs: a.addrs })
    await a.db.close()
    const ctx = {
      sessionId: 's1',
      direction: 'inbound' as const,
      remotePeerId: b.peerId,
      signal: new AbortController().signal
    }
    await expect(hooks.provisionDatabase('stock', b.peerId, a.peerId, 's1', ctx)).rejects.toMatchObject({
      name: 'TallyDbClosedError'
    })
    // the document is made before anything is written: no record of the tally at all
    expect(a.store.listTallies()).toEqual([])
  })

  it('foil: a customer whose document presets terms the merchant never offered is refused; honest ones pass', async () => {
    const a = await world.party({ listen: true })
    const b = await world.party()
    for (const terms of [{ unit: 'CHIP', foilCreditLimit: 100 }, undefined]) {
      const { link } = await a.createToken({ role: 'foil', uses: 'unlimited', ...(terms ? { terms } : {}) })
      // the customer's node writes a limit of its choosing into the document it creates (an outside review)
      const prepare = b.db.prepare.bind(b.db)
      b.db.prepare = (input) => prepare({ ...input, terms: { foilCreditLimit: 1e15 } })
      await expect(b.manager.initiateBootstrap(link, b.node)).rejects.toMatchObject({
        name: 'RejectedError',
        reason: 'provision-failed'
      })
      b.db.prepare = prepare
      const honest = await b.manager.initiateBootstrap(link, b.node)
      expect((await a.db.read(honest.tally.tallyId))?.document.terms).toEqual(terms ?? {})
    }
  })

  it("a handed-over document that is not whole or has a bad id is refused; another tally's is found out", async () => {
    const a = await world.party()
    const b = await world.party()
    const hooks = a.store.hooks({ peerId: a.peerId, multiaddrs: a.addrs })
    let swap: ((d: { id: string; data: string }) => { id: string; data: string }) | undefined
    let previous: { id: string; data: string } | undefined
    await listenWith(
      a,
      {
        ...hooks,
        provisionDatabase: async (...args) => {
          const result = await hooks.provisionDatabase(...args)
          const document = result.dbConnectionInfo.document as { id: string; data: string }
          const handed = swap?.(document) ?? document
          previous = document
          return { ...result, dbConnectionInfo: { ...result.dbConnectionInfo, document: handed } }
        }
      },
      // the bytes of 1.2.0 (1.3.0 carries a seed: the next case)
      [PROTOCOL_ID_V1_2]
    )
    const link = await linkOf(a, 'stock')
    // the control: handed over as provisioned
    const first = await b.manager.initiateBootstrap(link, b.node)
    expect((await b.db.read(first.tally.tallyId))?.document.tally.tallyId).toBe(first.tally.tallyId)

    const bytes = (d: { data: string }): Buffer => Buffer.from(d.data, 'base64')
    const refused: Array<(d: { id: string; data: string }) => { id: string; data: string }> = [
      (d) => ({ id: d.id, data: Buffer.from('not an automerge document').toString('base64') }),
      // one bit flipped: the chunk's checksum no longer matches
      (d) => {
        const flipped = bytes(d)
        flipped[flipped.length - 1]! ^= 1
        return { id: d.id, data: flipped.toString('base64') }
      },
      // cut short
      (d) => ({ id: d.id, data: bytes(d).subarray(0, 100).toString('base64') }),
      (d) => ({ id: 'NotADocumentId', data: d.data })
    ]
    await refusedEach(b, link, refused, (c) => (swap = c))
    expect(b.db.size).toBe(1)
    // the tally record went to disk beside the refused document (one wait, not two): each ended abandoned
    expect(
      b.store
        .listTallies()
        .filter((t) => t.tallyId !== first.tally.tallyId)
        .map((t) => t.status)
    ).toEqual(refused.map(() => 'abandoned'))

    // the previous tally's bytes under this tally's id: whole and valid, so stored unread; its first load
    // finds it is another tally's
    swap = (d) => ({ id: d.id, data: previous!.data })
    const foreign = await b.manager.initiateBootstrap(link, b.node)
    await expect(b.db.read(foreign.tally.tallyId)).rejects.toMatchObject({ name: 'ForeignDocumentError' })
    await expect(b.db.propose(foreign.tally.tallyId, { note: 'x' })).rejects.toMatchObject({
      name: 'ForeignDocumentError'
    })

    // this tally's document with more in it: a proposal in B's name, which A "accepted" (whole and valid
    // Automerge, so stored unread): its first load finds what A wrote for B, and B keeps none of it
    swap = (d) => {
      const doc = change(load<StoredTallyDoc>(bytes(d)), (x) => {
        const at = new Date().toISOString()
        addProposal(x, { proposalId: 'p', by: b.peerId, at, terms: { foilCreditLimit: 0 }, status: 'open' })
        acceptProposal(x, 'p', a.peerId, at)
      })
      return { id: d.id, data: Buffer.from(save(doc)).toString('base64') }
    }
    const stuffed = await b.manager.initiateBootstrap(link, b.node)
    await expect(b.db.read(stuffed.tally.tallyId)).rejects.toMatchObject({ name: 'RefusedChangeError' })
    expect((await b.db.read(first.tally.tallyId))?.document.proposals).toEqual([])
  })

  it("a seed that is not one or has a bad id is refused; one that is not the provisioner's own first state is refused at the first sync", async () => {
    const a = await world.party()
    const b = await world.party()
    const hooks = a.store.hooks({ peerId: a.peerId, multiaddrs: a.addrs })
    let swap: ((d: { id: string; seed: string }) => { id: string; seed: string }) | undefined
    await listenWith(
      a,
      {
        ...hooks,
        provisionDatabase: async (...args) => {
          const result = await hooks.provisionDatabase(...args)
          const document = result.dbConnectionInfo.document as { id: string; seed: string }
          return {
            ...result,
            dbConnectionInfo: { ...result.dbConnectionInfo, document: swap?.(document) ?? document }
          }
        }
      },
      [PROTOCOL_ID]
    )
    const link = await linkOf(a, 'stock')
    const refused: Array<(d: { id: string; seed: string }) => { id: string; seed: string }> = [
      (d) => ({ id: d.id, seed: 'not json' }),
      (d) => ({ id: d.id, seed: '[]' }),
      (d) => ({ id: d.id, seed: '{"terms":{"stockCreditLimit":-1}}' }),
      (d) => ({ id: d.id, seed: '{"terms":{},"actor":"00"}' }),
      (d) => ({ id: 'NotADocumentId', seed: d.seed })
    ]
    await refusedEach(b, link, refused, (c) => (swap = c))
    expect(b.db.size).toBe(0)

    // terms A never wrote into its own first state: B cannot tell at the bootstrap (it derives a first state
    // of its own from them), but the two first states differ, so neither side takes the other's changes
    swap = (d) => ({ id: d.id, seed: '{"terms":{"foilCreditLimit":5}}' })
    const lied = await b.manager.initiateBootstrap(link, b.node)
    const tallyId = lied.tally.tallyId
    expect((await b.db.read(tallyId))?.document.terms).toEqual({ foilCreditLimit: 5 })
    await a.db.propose(tallyId, { note: 'from A' })
    await a.db.sync(tallyId)
    await expect
      .poll(async () => (await b.db.read(tallyId))?.refused?.reason, { timeout: 20_000 })
      .toMatch(/^(a second creation of the document|changes the document engine cannot apply)$/)
    expect((await b.db.read(tallyId))?.document.proposals).toEqual([])
    expect((await a.db.read(tallyId))?.document.terms).toEqual({})
  })
})
