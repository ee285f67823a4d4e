/**
 * Who the counterparty is, end to end with real nodes and real stores: A's hooks see B's identity and
 * cadre, B's hooks see A's cadre; each side's tally records them (A: identity + cadre, B: cadre), in
 * memory and on disk; a refused contact records nothing; no identity value reaches the audit trail.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Counterparty, PartyRole, SessionHooks } from '../../main/bootstrap/index.ts'
import { openStore } from '../../main/store/index.ts'
import { World, expectIdle, finished, outcome, tallyOnDisk, type Party } from '../helpers/bootstrap-world.ts'

const BUNDLE = { email: 'ada@example.test', name: 'Ada Lovelace', note: 'counter 3' }
/** What A keeps of it: the token asks for email and name; `note` was not asked for. */
const KEPT = { email: BUNDLE.email, name: BUNDLE.name }
const SECRET_VALUES = Object.values(BUNDLE)

/** Everything one party wrote or emitted about its sessions, as text. */
function trail(party: Party): string {
  return JSON.stringify([party.store.listAudit({ limit: 1000 }), party.events])
}

async function fileText(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '')
}

describe('counterparty identity and cadre on each side', () => {
  const world = new World()
  afterEach(async () => world.close())

  it.each<PartyRole>(['stock', 'foil'])(
    '%s: A records B’s identity and cadre, B records A’s cadre',
    async (role) => {
      const seenByA = new Map<string, Counterparty | undefined>()
      const seenByB = new Map<string, Counterparty | undefined>()
      const spy =
        (seen: Map<string, Counterparty | undefined>) =>
        (hooks: SessionHooks): SessionHooks => ({
          ...hooks,
          validateToken: async (token, ctx) => {
            seen.set('validateToken', ctx.counterparty)
            return hooks.validateToken(token, ctx)
          },
          provisionDatabase: async (r, i, s, sessionId, ctx) => {
            seen.set('provisionDatabase', ctx.counterparty)
            return hooks.provisionDatabase(r, i, s, sessionId, ctx)
          },
          validateResponse: async (response, ctx) => {
            seen.set('validateResponse', ctx.counterparty)
            return hooks.validateResponse!(response, ctx)
          },
          validateDatabaseResult: async (result, ctx) => {
            seen.set('validateDatabaseResult', ctx.counterparty)
            return hooks.validateDatabaseResult!(result, ctx)
          }
        })
      const a = await world.listener({ wrapHooks: spy(seenByA) })
      const [b] = (await world.dialers(1, { wrapHooks: spy(seenByB) })) as [Party]
      const { link } = await a.createToken({ role, identityRequirements: ['email', 'name'] })

      const result = await b.manager.initiateBootstrap(link, b.node, { identityBundle: BUNDLE })
      const { tallyId } = result.tally
      await finished(a, 1)

      // the hooks' view: A sees B's bundle and cadre from the contact on; B sees only A's cadre
      const fromB: Counterparty = { identityBundle: BUNDLE, cadrePeerAddrs: b.addrs() }
      expect(seenByA.get('validateToken')).toEqual(fromB)
      expect(seenByA.get(role === 'stock' ? 'provisionDatabase' : 'validateDatabaseResult')).toEqual(fromB)
      const fromA: Counterparty = { cadrePeerAddrs: a.addrs() }
      expect(seenByB.get('validateResponse')).toEqual(fromA)
      if (role === 'foil') expect(seenByB.get('provisionDatabase')).toEqual(fromA)

      // A's tally: who the customer is, in the list, the full record and the journal on disk
      const listedA = a.store.listTallies()
      expect(listedA).toHaveLength(1)
      expect(listedA[0]).toMatchObject({
        tallyId,
        status: 'confirmed',
        counterpartyPeerId: b.peerId,
        counterpartyName: 'Ada Lovelace',
        counterpartyIdentity: KEPT,
        counterpartyCadre: b.addrs()
      })
      expect(a.store.getTally(tallyId)).toMatchObject({
        counterpartyIdentity: KEPT,
        counterpartyCadre: b.addrs()
      })
      expect(await tallyOnDisk(a.dir, tallyId)).toMatchObject({
        counterpartyIdentity: KEPT,
        counterpartyCadre: b.addrs()
      })
      // nothing the token did not ask for (or a name and email) is kept
      expect(a.store.getTally(tallyId)?.counterpartyIdentity).toEqual(KEPT)

      // B's tally: A's cadre; B's own bundle is not a counterparty identity
      const listedB = b.store.listTallies()
      expect(listedB).toHaveLength(1)
      expect(listedB[0]).toMatchObject({
        tallyId,
        counterpartyPeerId: a.peerId,
        counterpartyCadre: a.addrs()
      })
      expect(listedB[0]).not.toHaveProperty('counterpartyIdentity')
      expect(listedB[0]).not.toHaveProperty('counterpartyName')
      expect(await fileText(join(b.dir, 'tallies.jsonl'))).not.toContain(BUNDLE.email)

      // the audit trails and session events name peers, never identity values
      for (const party of [a, b]) {
        const text = trail(party)
        expect(text).toContain(tallyId) // the trail is there, and about this tally
        for (const value of SECRET_VALUES) expect(text).not.toContain(value)
      }
      await expectIdle([a.manager, b.manager])
    }
  )

  it('the name falls back to the email, and is absent when neither was given', async () => {
    const a = await world.listener()
    const [b, c] = (await world.dialers(2)) as [Party, Party]
    const { link } = await a.createToken({ role: 'stock', uses: 'unlimited' })

    const byEmail = await b.manager.initiateBootstrap(link, b.node, {
      identityBundle: { email: 'bo@example.test' }
    })
    const anonymous = await c.manager.initiateBootstrap(link, c.node, { identityBundle: {} })
    await finished(a, 2)

    const first = a.store.getTally(byEmail.tally.tallyId)
    expect(first).toMatchObject({
      counterpartyName: 'bo@example.test',
      counterpartyIdentity: { email: 'bo@example.test' },
      counterpartyCadre: b.addrs()
    })
    const second = a.store.getTally(anonymous.tally.tallyId)
    expect(second).toMatchObject({ counterpartyPeerId: c.peerId, counterpartyCadre: c.addrs() })
    expect(second).not.toHaveProperty('counterpartyName')
    expect(second).not.toHaveProperty('counterpartyIdentity')
  })

  it('a refused contact records nothing and leaves no identity value in the audit trail', async () => {
    const a = await world.listener({
      // an operator (here: a rule) refusing this customer
      wrapHooks: (hooks) => ({ ...hooks, validateIdentity: async () => false })
    })
    const [b] = (await world.dialers(1)) as [Party]
    const { link } = await a.createToken({
      role: 'stock',
      uses: 'unlimited',
      identityRequirements: ['email', 'name']
    })

    const incomplete = await outcome(
      b.manager.initiateBootstrap(link, b.node, { identityBundle: { email: BUNDLE.email } })
    )
    expect(incomplete.error).toMatchObject({ name: 'RejectedError', reason: 'identity-required' })
    const refused = await outcome(b.manager.initiateBootstrap(link, b.node, { identityBundle: BUNDLE }))
    expect(refused.error).toMatchObject({ name: 'RejectedError', reason: 'identity-rejected' })

    const ends = await finished(a, 2)
    expect(ends.map((e) => e.reason).sort()).toEqual(['identity-rejected', 'identity-required'])
    expect(a.store.listTallies()).toEqual([])
    expect(b.store.listTallies()).toEqual([])
    expect(await fileText(join(a.dir, 'tallies.jsonl'))).toBe('')
    for (const party of [a, b]) {
      const text = trail(party)
      expect(text).toContain('identity-rejected')
      for (const value of SECRET_VALUES) expect(text).not.toContain(value)
    }
    await expectIdle([a.manager, b.manager])
  })

  it('journal lines without a counterparty still load; a malformed one loses only those fields', async () => {
    const dir = await world.tempDir()
    const base = {
      role: 'stock',
      direction: 'inbound',
      status: 'confirmed',
      counterpartyPeerId: 'peerB',
      localPeerId: 'peerA',
      sessionId: 's',
      createdAt: 1,
      updatedAt: 1,
      dbConnectionInfo: { nodes: [], credentials: 'c' }
    }
    const tally = (tallyId: string): object => ({
      tallyId,
      createdBy: 'stock',
      initiatorPeerId: 'peerB',
      respondentPeerId: 'peerA',
      createdAt: '1970-01-01T00:00:00.000Z'
    })
    const lines = [
      { ...base, tallyId: 'old', tally: tally('old') },
      {
        ...base,
        tallyId: 'bad',
        tally: tally('bad'),
        counterpartyIdentity: ['not', 'a', 'bundle'],
        counterpartyCadre: 'not a list',
        counterpartyName: 'forged'
      },
      {
        ...base,
        tallyId: 'new',
        tally: tally('new'),
        counterpartyIdentity: { email: 'cy@example.test', size: 7 },
        counterpartyCadre: ['/ip4/127.0.0.1/tcp/1/p2p/peerB']
      }
    ]
    await writeFile(join(dir, 'tallies.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n')
    const store = await openStore(dir)
    try {
      const old = store.getTally('old')
      expect(old).toMatchObject({ tallyId: 'old', counterpartyPeerId: 'peerB' })
      expect(old).not.toHaveProperty('counterpartyIdentity')
      expect(old).not.toHaveProperty('counterpartyCadre')
      const bad = store.getTally('bad')
      expect(bad).toMatchObject({ tallyId: 'bad' })
      expect(bad).not.toHaveProperty('counterpartyIdentity')
      expect(bad).not.toHaveProperty('counterpartyCadre')
      expect(bad).not.toHaveProperty('counterpartyName')
      expect(store.getTally('new')).toMatchObject({
        counterpartyName: 'cy@example.test',
        // a non-string field is dropped from the bounded copy
        counterpartyIdentity: { email: 'cy@example.test' },
        counterpartyCadre: ['/ip4/127.0.0.1/tcp/1/p2p/peerB']
      })
      expect(store.listTallies()).toHaveLength(3)
    } finally {
      await store.close()
    }
  })
})
