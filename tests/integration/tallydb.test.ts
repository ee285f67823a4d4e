/**
 * The shared tally database (issue I), end to end with real nodes on 127.0.0.1, both roles: after the
 * bootstrap each side reads the same document from its own replica; changes travel both ways, also after
 * the other side was down; grants are refused for a third peer, a tampered grant, another tally and once
 * revoked; a restart keeps every document; 50 concurrent customers get 50 documents, each only their own.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Repo } from '@automerge/automerge-repo'
import type { DocumentId, PeerId } from '@automerge/automerge-repo'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import type { PartyRole } from '../../main/bootstrap/index.ts'
import { Libp2pNetworkAdapter, TallyDb } from '../../main/tallydb/index.ts'
import { createTaleusNode } from '../../main/node/create-node.ts'
import { loadOrCreatePrivateKey } from '../../main/node/private-key.ts'
import { DbWorld, proposalSeen, until } from '../helpers/tallydb-party.ts'
import type { DbParty } from '../helpers/tallydb-party.ts'

const TERMS = { stockCreditLimit: 500, foilCreditLimit: 100, unit: 'CHIP', note: 'net 30' }

/** Bootstrap one tally from `a` (listener) to `b` (dialer); returns the tally id and B's credentials. */
async function bootstrap(
  a: DbParty,
  b: DbParty,
  role: PartyRole,
  terms: typeof TERMS | null = TERMS
): Promise<{ tallyId: string; grant: string; nodes: string[] }> {
  const { link } = await a.createToken({ role, uses: 'unlimited', ...(terms === null ? {} : { terms }) })
  const result = await b.manager.initiateBootstrap(link, b.node)
  return {
    tallyId: result.tally.tallyId,
    grant: result.dbConnectionInfo.credentials,
    nodes: result.dbConnectionInfo.nodes
  }
}

describe('shared tally database', () => {
  const world = new DbWorld()
  afterEach(async () => world.close())

  it.each<PartyRole>(['stock', 'foil'])(
    '%s: both replicas hold the draft with the token terms, changes travel both ways, live',
    async (role) => {
      const a = await world.party({ listen: true })
      const b = await world.party()
      const { tallyId, grant } = await bootstrap(a, b, role)
      // the provisioner serves, the other side opened it with the grant
      const provisioner = role === 'stock' ? a : b
      const opener = role === 'stock' ? b : a
      expect(provisioner.db.isProvisioner(tallyId)).toBe(true)
      expect(opener.db.isProvisioner(tallyId)).toBe(false)

      // both replicas exist when the bootstrap reports success (read locally, no waiting)
      const viewA = await a.db.read(tallyId)
      const viewB = await b.db.read(tallyId)
      expect(viewA?.document.tally).toMatchObject({
        tallyId,
        createdBy: role,
        initiatorPeerId: b.peerId,
        respondentPeerId: a.peerId
      })
      expect(viewB?.document.tally).toEqual(viewA?.document.tally)
      // the listener's standing terms are in the document (foil: A wrote them into B's document)
      const terms = await until(async () => {
        const t = (await b.db.read(tallyId))?.document.terms
        return t?.unit === undefined ? undefined : t
      })
      expect(terms).toEqual(TERMS)

      // B proposes, A sees it and accepts, B sees the new terms
      const proposal = await b.db.propose(tallyId, { stockCreditLimit: 800 })
      await proposalSeen(a, tallyId, proposal.proposalId)
      await a.db.accept(tallyId, proposal.proposalId)
      await until(async () =>
        (await b.db.read(tallyId))?.document.terms.stockCreditLimit === 800 ? true : undefined
      )
      // A proposes, B accepts
      const back = await a.db.propose(tallyId, { note: 'net 15' })
      await proposalSeen(b, tallyId, back.proposalId)
      await b.db.accept(tallyId, back.proposalId)
      await until(async () =>
        (await a.db.read(tallyId))?.document.terms.note === 'net 15' ? true : undefined
      )
      const log = (await a.db.read(tallyId))?.document.log.map((e) => e.kind)
      expect(log).toEqual(expect.arrayContaining(['created', 'proposed', 'accepted']))
      // a party cannot accept its own proposal
      const own = await a.db.propose(tallyId, { foilCreditLimit: 1 })
      await expect(a.db.accept(tallyId, own.proposalId)).rejects.toMatchObject({ name: 'ProposalError' })

      // the grant is in no tallies.jsonl (the provisioner re-derives it, the opener keeps it sealed)
      for (const p of [a, b]) {
        const journal = await readFile(join(p.dir, 'tallies.jsonl'), 'utf8')
        expect(journal).not.toContain(grant)
        const index = await readFile(join(p.dir, 'tallydb', 'index.jsonl'), 'utf8')
        expect(index).not.toContain(grant)
      }
    }
  )

  it.each<PartyRole>(['stock', 'foil'])(
    '%s: changes made while the other side is down merge after its restart; restart keeps the documents',
    async (role) => {
      let a = await world.party({ listen: true })
      let b = await world.party()
      const { tallyId } = await bootstrap(a, b, role)

      // B goes down; A changes the document meanwhile
      await b.stop()
      const fromA = await a.db.propose(tallyId, { unit: 'EUR' })
      // A reads its own replica with B offline
      expect((await a.db.read(tallyId))?.document.proposals[0]?.proposalId).toBe(fromA.proposalId)
      b = await world.restart(b)
      // B reads its replica before any sync
      expect((await b.db.read(tallyId))?.document.tally.tallyId).toBe(tallyId)
      await b.db.sync(tallyId, { signal: AbortSignal.timeout(20_000) })
      await a.db.sync(tallyId, { signal: AbortSignal.timeout(20_000) })
      await proposalSeen(b, tallyId, fromA.proposalId)

      // A goes down; B changes meanwhile; A comes back (same folder, same PeerId)
      await a.stop()
      const fromB = await b.db.propose(tallyId, { note: 'while A was away' })
      a = await world.restart(a, { listen: true })
      expect(a.db.has(tallyId)).toBe(true)
      await a.db.sync(tallyId, { signal: AbortSignal.timeout(20_000) })
      await b.db.sync(tallyId, { signal: AbortSignal.timeout(20_000) })
      await proposalSeen(a, tallyId, fromB.proposalId)
      // both changes are in both replicas
      for (const p of [a, b]) {
        const ids = (await p.db.read(tallyId))?.document.proposals.map((x) => x.proposalId)
        expect(ids).toEqual(expect.arrayContaining([fromA.proposalId, fromB.proposalId]))
      }
    }
  )

  it('an acceptance made offline that crossed the withdrawal: after they meet, both read it withdrawn, terms unchanged', async () => {
    let a = await world.party({ listen: true })
    let b = await world.party()
    const { tallyId } = await bootstrap(a, b, 'stock')
    const offer = await a.db.propose(tallyId, { stockCreditLimit: 5000 })
    await b.db.sync(tallyId, { signal: AbortSignal.timeout(20_000) })
    await proposalSeen(b, tallyId, offer.proposalId)
    // B goes away; A withdraws its offer; A goes away; B, back but not reaching A, accepts the offer
    await b.stop()
    await a.db.closeProposal(tallyId, offer.proposalId, 'withdrawn')
    await a.stop()
    b = await world.restart(b)
    await b.db.accept(tallyId, offer.proposalId)
    // B does not read it agreed: the acceptance counts once A confirms it
    const waiting = (await b.db.read(tallyId))?.document
    expect(waiting?.terms.stockCreditLimit).toBe(TERMS.stockCreditLimit)
    expect(waiting?.proposals.find((x) => x.proposalId === offer.proposalId)?.status).toBe(
      'awaiting-confirmation'
    )
    // they meet: the withdrawal wins on both sides, the acceptance is kept but does not count
    a = await world.restart(a, { listen: true })
    await b.db.sync(tallyId, { signal: AbortSignal.timeout(20_000) })
    for (const p of [a, b]) {
      const view = await until(async () => {
        const v = await p.db.read(tallyId)
        const crossed = v?.document.proposals.find((x) => x.proposalId === offer.proposalId)
        return crossed?.acceptedBy !== undefined && crossed.closedBy !== undefined ? v : undefined
      })
      expect(view?.refused).toBeNull()
      expect(view?.document.terms.stockCreditLimit).toBe(TERMS.stockCreditLimit)
      expect(view?.document.proposals.find((x) => x.proposalId === offer.proposalId)?.status).toBe(
        'withdrawn'
      )
    }
    // B's node retracts its acceptance on learning of the withdrawal: A can no longer confirm it, not even
    // with a confirmation dated back before the retraction
    const retracted = await until(async () => {
      const log = (await a.db.read(tallyId))?.document.log ?? []
      return log.find((e) => e.kind === 'retracted' && e.by === b.peerId)
    })
    expect(retracted?.proposalId).toBe(offer.proposalId)
  })

  it.each<PartyRole>(['stock', 'foil'])(
    '%s: the grant is refused for a third peer, tampered, for another tally, and once revoked',
    async (role) => {
      const a = await world.party({ listen: true })
      const b = await world.party()
      const first = await bootstrap(a, b, role)
      const second = await bootstrap(a, b, role)
      const provisioner = role === 'stock' ? a : b
      const opener = role === 'stock' ? b : a
      const c = await world.party()

      const tryOpen = async (from: DbParty, tallyId: string, grant: string): Promise<string> => {
        const adapter = new Libp2pNetworkAdapter(from.node)
        try {
          const addrs = provisioner.addrs().map((x) => multiaddr(x))
          const opened = await adapter.open(peerIdFromString(provisioner.peerId), addrs, tallyId, grant, {
            signal: AbortSignal.timeout(20_000)
          })
          return opened.documentId
        } catch (err) {
          return (err as Error).name
        } finally {
          await adapter.stop()
        }
      }
      // a third peer with the right grant
      expect(await tryOpen(c, first.tallyId, first.grant)).toBe('GrantRefusedError')
      const flipped = first.grant.slice(0, -2) + (first.grant.endsWith('AA') ? 'AB' : 'AA')
      // the opener itself: a tampered grant, the grant of another tally
      await opener.db.close()
      expect(await tryOpen(opener, first.tallyId, flipped)).toBe('GrantRefusedError')
      expect(await tryOpen(opener, second.tallyId, first.grant)).toBe('GrantRefusedError')
      expect(await tryOpen(opener, 'no-such-tally', first.grant)).toBe('GrantRefusedError')
      // the right grant from the right peer still opens (the control)
      expect(await tryOpen(opener, first.tallyId, first.grant)).toMatch(/^[1-9A-HJ-NP-Za-km-z]+$/)
      // revoked: refused
      await provisioner.db.revoke(first.tallyId)
      expect(await tryOpen(opener, first.tallyId, first.grant)).toBe('GrantRefusedError')
      // and still open for the other tally
      expect(await tryOpen(opener, second.tallyId, second.grant)).toMatch(/^[1-9A-HJ-NP-Za-km-z]+$/)
    }
  )

  it.each<PartyRole>(['stock', 'foil'])(
    '%s: delivered() resolves once the other side holds the change (read there at once), false while it is down',
    async (role) => {
      const a = await world.party({ listen: true })
      const b = await world.party()
      const { tallyId } = await bootstrap(a, b, role)
      const wait = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(15_000) })
      const proposal = await b.db.propose(tallyId, { note: 'weekly' })
      expect(await b.db.delivered(tallyId, wait())).toBe(true)
      const atA = (await a.db.read(tallyId))?.document.proposals
      expect(atA?.map((p) => p.proposalId)).toContain(proposal.proposalId)
      const accepted = await a.db.accept(tallyId, proposal.proposalId)
      expect(accepted.status).toBe('awaiting-confirmation')
      expect(await a.db.delivered(tallyId, wait())).toBe(true)
      expect(
        (await b.db.read(tallyId))?.document.proposals.find((p) => p.proposalId === proposal.proposalId)
          ?.acceptedBy
      ).toBe(a.peerId)
      // B, its proposer, confirms the acceptance on holding it; A reads it agreed once that comes back
      expect(await a.db.agreed(tallyId, proposal.proposalId, wait())).toBe(true)
      expect((await a.db.read(tallyId))?.document.terms.note).toBe('weekly')
      expect(await b.db.agreed(tallyId, proposal.proposalId, wait())).toBe(true)
      const atB = (await b.db.read(tallyId))?.document
      expect(atB?.proposals.find((p) => p.proposalId === proposal.proposalId)?.status).toBe('accepted')
      expect(atB?.terms.note).toBe('weekly')
      // B's confirmation is its newest change; once A holds it, nothing new: delivered at once
      expect(await b.db.delivered(tallyId, wait())).toBe(true)
      expect(await b.db.delivered(tallyId, { signal: AbortSignal.timeout(1) })).toBe(true)

      await a.stop()
      await b.db.propose(tallyId, { note: 'monthly' })
      expect(await b.db.delivered(tallyId, { signal: AbortSignal.timeout(1500) })).toBe(false)
    }
  )

  it('a wallet restarted with another peer id or another grant key is told so, not left unsynced', async () => {
    const a = await world.party({ listen: true })
    const b = await world.party()
    const { tallyId } = await bootstrap(a, b, 'stock')
    await b.stop()
    const stranger = await createTaleusNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    const reopen = async (libp2p: Libp2p, grantKey: Uint8Array): Promise<TallyDb> =>
      TallyDb.open({ dir: join(b.dir, 'tallydb'), libp2p, grantKey, reconnectMs: 0 })
    try {
      const asStranger = await reopen(stranger, b.store.grantKey())
      await expect(asStranger.read(tallyId)).rejects.toMatchObject({
        name: 'ForeignDocumentError',
        message: expect.stringContaining('another peer id')
      })
      await asStranger.close()
      // B's own key, another secret: its grant stays sealed
      const own = await createTaleusNode({
        privateKey: await loadOrCreatePrivateKey(join(b.dir, 'peer.key')),
        listen: ['/ip4/127.0.0.1/tcp/0']
      })
      try {
        const otherSecret = await reopen(own, randomBytes(32))
        expect((await otherSecret.read(tallyId))?.tallyId).toBe(tallyId)
        await expect(otherSecret.sync(tallyId)).rejects.toMatchObject({ name: 'SealedGrantError' })
        await otherSecret.close()
        const rightSecret = await reopen(own, b.store.grantKey())
        expect(await rightSecret.sync(tallyId, { signal: AbortSignal.timeout(15_000) })).toBe(true)
        await rightSecret.close()
      } finally {
        await own.stop()
      }
    } finally {
      await stranger.stop()
    }
  })

  it('a returning customer whose channel to the merchant is open: each new document is opened on it, both roles', async () => {
    const a = await world.party({ listen: true })
    let b = await world.party()
    const first = await bootstrap(a, b, 'stock')
    for (const role of ['foil', 'stock'] as const) {
      b = await world.restart(b)
      // the channel to A is open before the new tally's document exists
      expect(await b.db.sync(first.tallyId, { signal: AbortSignal.timeout(15_000) })).toBe(true)
      // no standing terms: A writes nothing into a foil document, so nothing of A's opens it
      const { tallyId } = await bootstrap(a, b, role, null)
      await b.db.propose(tallyId, { note: `again ${role}` })
      expect(await b.db.delivered(tallyId, { signal: AbortSignal.timeout(15_000) }), role).toBe(true)
    }
  })

  it('50 concurrent bootstraps give 50 documents, each reachable only by its own customer', async () => {
    // the production step timeout (5 s): the rush shares two cores with 50 Noise handshakes
    const a = await world.party({ listen: true, config: { maxConcurrentSessions: 200, stepTimeoutMs: 5000 } })
    const customers = await Promise.all(
      Array.from({ length: 50 }, async () => world.party({ config: { stepTimeoutMs: 5000 } }))
    )
    const { link } = await a.createToken({ role: 'stock', uses: 'unlimited', terms: TERMS })
    const results = await Promise.all(customers.map(async (b) => b.manager.initiateBootstrap(link, b.node)))
    const ids = new Set(results.map((r) => r.tally.tallyId))
    expect(ids.size).toBe(50)
    expect(a.db.size).toBe(50)
    for (const [i, b] of customers.entries()) {
      const tallyId = results[i]!.tally.tallyId
      const view = await b.db.read(tallyId)
      expect(view?.document.tally.initiatorPeerId).toBe(b.peerId)
      expect(view?.document.terms).toEqual(TERMS)
      // each customer holds exactly its own document
      expect(b.db.size).toBe(1)
    }
    // customer 0's grant opens nothing for customer 1; on the channel its own grant opened, a request for
    // customer 0's document gets nothing (the channel carries only granted documents)
    const mine = results[1]!
    const other = results[0]!
    const otherDoc = (await a.db.read(other.tally.tallyId))!.documentId as DocumentId
    const adapter = new Libp2pNetworkAdapter(customers[1]!.node)
    const repo = new Repo({ network: [adapter], peerId: customers[1]!.peerId as PeerId })
    try {
      const addrs = a.addrs().map((x) => multiaddr(x))
      const provisioner = peerIdFromString(a.peerId)
      await expect(
        adapter.open(provisioner, addrs, other.tally.tallyId, other.dbConnectionInfo.credentials)
      ).rejects.toMatchObject({ name: 'GrantRefusedError' })
      const own = await adapter.open(
        provisioner,
        addrs,
        mine.tally.tallyId,
        mine.dbConnectionInfo.credentials
      )
      // the control: its own document syncs over the channel
      const handle = await repo.find<{ tally: { tallyId: string } }>(own.documentId, {
        signal: AbortSignal.timeout(20_000)
      })
      // its strings are scalars (ImmutableString): String() reads them, as an integrator's repo would
      expect(String(handle.doc().tally.tallyId)).toBe(mine.tally.tallyId)
      const theirs = await repo.find(otherDoc, { signal: AbortSignal.timeout(3000) }).then(
        () => 'found',
        (err: Error) => err.name
      )
      expect(theirs).not.toBe('found')
    } finally {
      await repo.shutdown().catch(() => {})
      await adapter.stop()
    }
  })
})
