/**
 * Issue A end to end with the real store on both sides: real libp2p nodes on 127.0.0.1, lowdb stores in
 * temp folders. Stock and foil finish on both sides with the same tally; cadre disclosure seen on the
 * wire; restart keeps the data.
 */
import type { Libp2p } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { createTaleusNode } from '../../main/node/index.ts'
import type { PartyRole, SessionHooks } from '../../main/bootstrap/index.ts'
import {
  ON_POSTGRES,
  World,
  expectIdle,
  finished,
  gate,
  outcome,
  tallyOnDisk,
  type Party
} from '../helpers/bootstrap-world.ts'
import { captureFirstFrames, rawClient } from '../helpers/raw-client.ts'

describe('bootstrap end to end with the real store', () => {
  const world = new World()
  afterEach(async () => world.close())

  async function bothSidesSameTally(role: PartyRole): Promise<void> {
    const a = await world.listener()
    const [b] = (await world.dialers(1)) as [Party]
    const { view, link } = await a.createToken({ role, uses: 1, label: `${role} till` })

    const result = await b.manager.initiateBootstrap(link, b.node)
    expect(result.role).toBe(role)
    expect(result.remotePeerId).toBe(a.peerId)
    expect(result.remoteCadrePeerAddrs).toEqual(a.addrs())
    expect(result.tally).toMatchObject({
      createdBy: role,
      initiatorPeerId: b.peerId,
      respondentPeerId: a.peerId
    })
    const { tallyId } = result.tally

    const endA = (await finished(a, 1))[0]!
    expect(endA).toMatchObject({ state: 'L_DONE', tallyId, tokenId: view.tokenId, role })

    // same tally, same connection info, confirmed on both sides, in memory and in the journal on disk
    const tallyA = a.store.getTally(tallyId)
    const tallyB = b.store.getTally(tallyId)
    expect(tallyA?.status).toBe('confirmed')
    expect(tallyB?.status).toBe('confirmed')
    expect(tallyA?.tally).toEqual(tallyB?.tally)
    expect(tallyA?.dbConnectionInfo).toEqual(tallyB?.dbConnectionInfo)
    expect(tallyA?.tally).toEqual(result.tally)
    expect(tallyA).toMatchObject({
      direction: 'inbound',
      tokenId: view.tokenId,
      counterpartyPeerId: b.peerId
    })
    expect(tallyB).toMatchObject({ direction: 'outbound', counterpartyPeerId: a.peerId })
    expect((await tallyOnDisk(a.dir, tallyId))?.status).toBe('confirmed')
    expect((await tallyOnDisk(b.dir, tallyId))?.status).toBe('confirmed')
    expect(a.store.listTallies()).toHaveLength(1)
    expect(b.store.listTallies()).toHaveLength(1)

    // the provisioning side's connection info points at itself
    const provisioner = role === 'stock' ? a : b
    expect(result.dbConnectionInfo.nodes).toEqual(provisioner.addrs())

    expect(a.store.getToken(view.tokenId)?.used).toBe(1)
    expect(a.store.getToken(view.tokenId)?.status).toBe('used-up')
    // the audit trail holds A's walk through the states, and no token text
    const audit = a.store.listAudit({ sessionId: endA.sessionId })
    expect(audit.map((e) => e.state).reverse()).toEqual(
      role === 'stock'
        ? ['L_PROCESS_CONTACT', 'L_SEND_RESPONSE', 'L_AWAIT_ACK', 'L_DONE']
        : ['L_PROCESS_CONTACT', 'L_SEND_RESPONSE', 'L_AWAIT_DATABASE', 'L_DONE']
    )
    expect(JSON.stringify(audit)).not.toContain(link.token)
    await expectIdle([a.manager, b.manager])
  }

  it('stock: both sides DONE with the same tally, confirmed on disk on both sides', async () => {
    await bothSidesSameTally('stock')
  })

  it('foil: B provisions, A records and acks; both DONE with the same tally, confirmed on disk', async () => {
    await bothSidesSameTally('foil')
  })

  it("cadre disclosure: B's cadre goes first, before B has heard anything from A", async () => {
    const [b] = (await world.dialers(1)) as [Party]
    const hand: Libp2p = await createTaleusNode()
    try {
      const captured = await captureFirstFrames(hand, {
        type: 'ProvisioningResult',
        approved: false,
        reason: 'invalid-token'
      })
      const addr = `${hand.getMultiaddrs()[0]!.toString()}`
      const { error } = await outcome(
        b.manager.initiateBootstrap(
          { token: 'not-a-real-token', role: 'stock', responderPeerAddrs: [addr] },
          b.node
        )
      )
      expect(error).toMatchObject({ name: 'RejectedError', reason: 'invalid-token' })
      expect(captured).toHaveLength(1)
      expect(captured[0]!.json).toEqual({
        type: 'InboundContact',
        token: 'not-a-real-token',
        partyId: b.peerId,
        identityBundle: {},
        cadrePeerAddrs: b.addrs()
      })
      expect(b.addrs().length).toBeGreaterThan(0)
      expect(b.store.listTallies()).toEqual([])
      await expectIdle([b.manager])
    } finally {
      await hand.stop()
    }
  })

  it("cadre disclosure: A's partyId and cadre only in an approved response, nothing of A in any rejection", async () => {
    const a = await world.listener()
    const [x] = (await world.dialers(1)) as [Party]
    const addr = a.addrs()[0]!
    const xCadre = [`/ip4/10.9.8.7/tcp/4001/p2p/${x.peerId}`]
    const contact = (token: string, identityBundle: Record<string, string> = {}): object => ({
      type: 'InboundContact',
      token,
      partyId: x.peerId,
      identityBundle,
      cadrePeerAddrs: xCadre
    })
    const revoked = await a.createToken({ role: 'stock', uses: 'unlimited' })
    await a.store.revokeToken(revoked.view.tokenId)
    const needsEmail = await a.createToken({ role: 'foil', identityRequirements: ['email'] })
    const expired = await a.createToken({ role: 'stock', expiresInMs: 60_000 })
    const used = await a.createToken({ role: 'stock', uses: 1 })
    const good = await a.createToken({ role: 'stock', uses: 'unlimited' })

    // use `used` up first, through a real dialer
    await x.manager.initiateBootstrap(used.link, x.node)

    const rejections: Array<[string, object, string]> = [
      ['unknown', contact('no-such-token'), 'invalid-token'],
      ['revoked', contact(revoked.token), 'token-revoked'],
      ['used up', contact(used.token), 'token-used'],
      ['identity missing', contact(needsEmail.token), 'identity-required'],
      ['party mismatch', { ...contact(good.token), partyId: a.peerId }, 'party-mismatch']
    ]
    for (const [name, body, reason] of rejections) {
      const client = await rawClient(x.node, addr)
      await client.send(body)
      const { frames, end } = await client.readAll()
      await client.close()
      expect(end, name).toBe('eof')
      expect(frames, name).toHaveLength(1)
      const reply = frames[0]!
      expect(reply.json, name).toMatchObject({ type: 'ProvisioningResult', approved: false, reason })
      expect(Object.keys(reply.json!).sort(), name).toEqual(
        expect.arrayContaining(['approved', 'reason', 'type'])
      )
      for (const key of Object.keys(reply.json!))
        expect(['type', 'approved', 'reason', 'role']).toContain(key)
      expect(reply.text, name).not.toContain(a.peerId)
      for (const own of a.addrs()) expect(reply.text, name).not.toContain(own.split('/p2p/')[0]!)
    }

    // expiry: the store's clock moves past it
    a.skewMs = 120_000
    {
      const client = await rawClient(x.node, addr)
      await client.send(contact(expired.token))
      const { frames } = await client.readAll()
      await client.close()
      expect(frames.map((f) => f.json)).toEqual([
        { type: 'ProvisioningResult', approved: false, reason: 'token-expired' }
      ])
      expect(frames[0]!.text).not.toContain(a.peerId)
    }

    // approved: A's partyId and cadre, and the database naming X and A
    const client = await rawClient(x.node, addr)
    await client.send(contact(good.token))
    const approved = await client.read()
    expect(typeof approved).toBe('object')
    const json = (approved as { json: Record<string, unknown> }).json
    expect(json).toMatchObject({
      type: 'ProvisioningResult',
      approved: true,
      role: 'stock',
      partyId: a.peerId,
      cadrePeerAddrs: a.addrs()
    })
    const provision = json.provisionResult as { tally: { tallyId: string; initiatorPeerId: string } }
    expect(provision.tally.initiatorPeerId).toBe(x.peerId)
    await client.send({ type: 'Ack', ok: true })
    expect(await client.read()).toBe('eof')
    await client.close()
    const ends = await finished(a, rejections.length + 3)
    const done = ends.filter((e) => e.state === 'L_DONE')
    expect(done.map((e) => e.tallyId)).toContain(provision.tally.tallyId)
    expect(a.store.getTally(provision.tally.tallyId)?.status).toBe('confirmed')
    // every rejection above ended A's session as failed with its reason
    expect(
      ends
        .filter((e) => e.state === 'L_FAILED')
        .map((e) => e.reason)
        .sort()
    ).toEqual(
      [
        'identity-required',
        'invalid-token',
        'party-mismatch',
        'token-expired',
        'token-revoked',
        'token-used'
      ].sort()
    )
    await expectIdle([a.manager, x.manager])
  })

  it('restart keeps tokens, tallies and the audit trail; a draft cut by the stop ends abandoned', async () => {
    const a1 = await world.listener()
    const hold = gate()
    const entered = gate()
    const [b] = (await world.dialers(1, {
      wrapHooks: (hooks): SessionHooks => ({
        ...hooks,
        validateResponse: async (response, ctx) => {
          if (ctx.sessionId.startsWith('held-')) {
            entered.open()
            await hold.promise
          }
          return hooks.validateResponse!(response, ctx)
        }
      })
    })) as [Party]
    const multi = await a1.createToken({ role: 'stock', uses: 'unlimited', label: 'counter' })
    const revoked = await a1.createToken({ role: 'foil', uses: 3, label: 'gone' })
    await a1.store.revokeToken(revoked.view.tokenId)

    const first = await b.manager.initiateBootstrap(multi.link, b.node)
    await finished(a1, 1)
    const held = outcome(b.manager.initiateBootstrap(multi.link, b.node, { sessionId: 'held-1' }))
    await entered.promise
    const draft = a1.store.listTallies().find((t) => t.status === 'draft')
    expect(draft).toBeDefined()
    // on lowdb a listener's draft is held in memory, its first line is its settlement; on PostgreSQL the
    // draft's row is committed before the answer (every node of the cadre serves the shared table)
    if (ON_POSTGRES) expect((await tallyOnDisk(a1.dir, draft!.tallyId))?.status).toBe('draft')
    else expect(await tallyOnDisk(a1.dir, draft!.tallyId)).toBeUndefined()

    // the store goes first, so the cut session cannot settle its draft itself: the close does
    await a1.store.close()
    await a1.stop()
    hold.open()
    expect((await held).error?.name).toBe('StreamClosedError')
    expect(b.store.getTally(draft!.tallyId)?.status).toBe('abandoned')
    expect((await tallyOnDisk(a1.dir, first.tally.tallyId))?.status).toBe('confirmed')
    // the cut session could not settle. lowdb: the close wrote its held draft abandoned, as recover()
    // would have. PostgreSQL: the committed row stays a draft until the next open's recover() settles it
    expect((await tallyOnDisk(a1.dir, draft!.tallyId))?.status).toBe(ON_POSTGRES ? 'draft' : 'abandoned')

    const a2 = await world.listener({ dataDir: a1.dir })
    expect(await a2.store.recover()).toEqual({ abandoned: ON_POSTGRES ? 1 : 0, pending: 0 })
    const tallies = new Map(a2.store.listTallies().map((t) => [t.tallyId, t.status]))
    expect(tallies.get(first.tally.tallyId)).toBe('confirmed')
    expect(tallies.get(draft!.tallyId)).toBe('abandoned')
    expect((await tallyOnDisk(a2.dir, draft!.tallyId))?.status).toBe('abandoned')
    expect(
      a2.store
        .listTokens()
        .map((t) => [t.tokenId, t.status])
        .sort()
    ).toEqual(
      [
        [multi.view.tokenId, 'active'],
        [revoked.view.tokenId, 'revoked']
      ].sort()
    )
    expect(a2.store.tokenSecret(multi.view.tokenId)).toBe(multi.token)
    const audit = await a2.store.queryAudit({ limit: 1000 })
    expect(audit.some((e) => e.state === 'L_DONE' && e.tallyId === first.tally.tallyId)).toBe(true)

    // the same token text works against the restarted node (new address, same store)
    const again = await b.manager.initiateBootstrap({ ...multi.link, responderPeerAddrs: a2.addrs() }, b.node)
    expect(a2.store.getTally(again.tally.tallyId)).toBeDefined()
    await finished(a2, 1)
    expect(a2.store.getTally(again.tally.tallyId)?.status).toBe('confirmed')
    await expectIdle([a2.manager, b.manager])
  })
})
