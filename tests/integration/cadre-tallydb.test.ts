/**
 * Tally documents shared by a cadre (issues I and J): two merchant nodes on one PostgreSQL schema keep every
 * tally's document and index in the database, so a customer who bootstrapped through node 1 opens and syncs
 * its document through node 2 while node 1 is down, a change made through one node shows on the other, a
 * grant is checked the same way on every node and a revocation on one is honoured by all. Real libp2p nodes
 * on 127.0.0.1, real lowdb folders for the customers, a real PostgreSQL (TALEUS_TEST_PG; skipped without).
 */
import { rm } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { formatLink, parseLink } from '../../main/bootstrap/index.ts'
import type { PartyRole } from '../../main/bootstrap/index.ts'
import { createConsoleService } from '../../main/service/index.ts'
import type { ConsoleService } from '../../main/service/index.ts'
import { Libp2pNetworkAdapter } from '../../main/tallydb/index.ts'
import { cadreDir, startCadreDbNode } from '../helpers/cadre-tallydb.ts'
import type { CadreDbNode } from '../helpers/cadre-tallydb.ts'
import { dropSchemas, freshSchema } from '../helpers/stores.ts'
import { DbWorld, until } from '../helpers/tallydb-party.ts'
import type { DbParty } from '../helpers/tallydb-party.ts'

const PG = process.env.TALEUS_TEST_PG
if (PG === undefined)
  process.stderr.write('SKIPPED tests/integration/cadre-tallydb.test.ts: TALEUS_TEST_PG is not set\n')

const TERMS = { stockCreditLimit: 500, foilCreditLimit: 100, unit: 'CHIP', note: 'net 30' }
/** Generous: a guard against hangs on a loaded machine, never a timing assertion. */
const WAIT_MS = 60_000

describe.skipIf(PG === undefined)('tally documents shared by a cadre', () => {
  const world = new DbWorld()
  let schema: string
  let url: string
  const dirs: string[] = []
  const running = new Set<{ stop(): Promise<void> }>()

  beforeEach(() => {
    schema = freshSchema()
    url = `${PG as string}${(PG as string).includes('?') ? '&' : '?'}schema=${schema}`
  })

  afterEach(async () => {
    await Promise.allSettled([...running].map(async (r) => r.stop()))
    running.clear()
    await world.close()
    await dropSchemas(PG as string, [schema])
    await Promise.all(dirs.splice(0).map(async (d) => rm(d, { recursive: true, force: true })))
  })

  async function service(dir: string): Promise<ConsoleService> {
    const s = await createConsoleService({
      dataDir: dir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: false,
      store: url
    })
    running.add(s)
    await s.start()
    return s
  }

  async function stopService(s: ConsoleService): Promise<void> {
    await s.stop()
    running.delete(s)
  }

  async function cadreNode(dir: string): Promise<CadreDbNode> {
    const n = await startCadreDbNode(PG as string, schema, dir)
    running.add(n)
    return n
  }

  async function stopNode(n: CadreDbNode): Promise<void> {
    await n.stop()
    running.delete(n)
  }

  async function newDir(name: string): Promise<string> {
    const dir = await cadreDir(name)
    dirs.push(dir)
    return dir
  }

  it.each<PartyRole>(['stock', 'foil'])(
    '%s, the console: bootstrapped through node 1, synced through node 2 while node 1 is down; each console shows the other’s changes; restarts keep the document',
    async (role) => {
      const [d1, d2] = [await newDir('s1'), await newDir('s2')]
      let s1 = await service(d1)
      let s2 = await service(d2)
      expect(s2.peerId).toBe(s1.peerId)
      // node 1 knows node 2's addresses before the customer comes (a tally's document is served by both)
      const created = await s1.createToken({ role, uses: 'unlimited', terms: TERMS })
      await until(async () => {
        const { link } = await s1.getTokenLink({ tokenId: created.tokenId })
        return s2.multiaddrs().some((a) => parseLink(link).responderPeerAddrs.includes(a)) ? true : undefined
      }, WAIT_MS)
      const { link } = await s1.getTokenLink({ tokenId: created.tokenId })

      const customer = await world.party()
      const result = await customer.manager.initiateBootstrap(parseLink(link), customer.node)
      const tallyId = result.tally.tallyId
      // the customer learnt node 2's addresses too: where the document is served (stock), where the
      // merchant is reached (both roles)
      expect(result.remoteCadrePeerAddrs.some((a) => s2.multiaddrs().includes(a))).toBe(true)
      if (role === 'stock')
        expect(result.dbConnectionInfo.nodes.some((a) => s2.multiaddrs().includes(a))).toBe(true)
      // node 2 serves (stock) or holds (foil) the document node 1 created or joined: it is in the cadre's database
      const onTwo = await s2.getTallyDocument({ tallyId })
      expect(onTwo).toMatchObject({ provisioner: role === 'stock', counterpartyPeerId: customer.peerId })
      expect(onTwo.document.terms).toEqual(TERMS)

      // node 1 goes down; the customer's change reaches the cadre through node 2
      await stopService(s1)
      const fromCustomer = await customer.db.propose(tallyId, { note: 'net 10' })
      expect(await customer.db.sync(tallyId, { signal: AbortSignal.timeout(WAIT_MS) })).toBe(true)
      await until(async () => {
        const view = await s2.getTallyDocument({ tallyId })
        return view.document.proposals.some((p) => p.proposalId === fromCustomer.proposalId)
          ? true
          : undefined
      }, WAIT_MS)
      // node 2's console proposes: the customer sees it
      const fromTwo = await s2.proposeTerms({ tallyId, terms: { unit: 'EUR' } })
      await until(async () => {
        const view = await customer.db.read(tallyId)
        return view?.document.proposals.some((p) => p.proposalId === fromTwo.proposalId) === true
          ? true
          : undefined
      }, WAIT_MS)

      // node 1 back: its console shows both
      s1 = await service(d1)
      const back = await s1.getTallyDocument({ tallyId })
      expect(back.document.proposals.map((p) => p.proposalId)).toEqual(
        expect.arrayContaining([fromCustomer.proposalId, fromTwo.proposalId])
      )

      // the customer away: node 2 accepts, and node 1, which holds the document open, sees it from the database
      await customer.stop()
      await s2.acceptProposal({ tallyId, proposalId: fromCustomer.proposalId })
      await until(async () => {
        const view = await s1.getTallyDocument({ tallyId })
        const accepted = view.document.proposals.find((p) => p.proposalId === fromCustomer.proposalId)
        return accepted?.status === 'awaiting-confirmation' ? true : undefined
      }, WAIT_MS)
      // the customer back: its node confirms the acceptance, and node 1 reads the new terms
      const returned = await world.restart(customer)
      const signal = AbortSignal.timeout(WAIT_MS)
      expect(await returned.db.agreed(tallyId, fromCustomer.proposalId, { signal })).toBe(true)
      await until(async () => {
        const view = await s1.getTallyDocument({ tallyId })
        return view.document.terms.note === 'net 10' ? true : undefined
      }, WAIT_MS)

      // both restart: the document is all there
      await Promise.all([stopService(s1), stopService(s2)])
      s2 = await service(d2)
      const again = await s2.getTallyDocument({ tallyId })
      expect(again.document.terms).toEqual({ ...TERMS, note: 'net 10' })
      expect(again.document.proposals).toHaveLength(2)
    },
    180_000
  )

  it('grants on node 2: refused for a third peer, tampered, for another tally; revoked on node 1, refused on node 2', async () => {
    const [d1, d2] = [await newDir('n1'), await newDir('n2')]
    let n1 = await cadreNode(d1)
    const n2 = await cadreNode(d2)
    await until(() => (n1.store.cadreAddrs().length === 1 ? true : undefined), WAIT_MS)
    const bootstrap = async (b: DbParty): Promise<{ tallyId: string; grant: string }> => {
      const { view, token } = await n1.store.createToken({ role: 'stock', uses: 'unlimited', terms: TERMS })
      const link = parseLink(formatLink({ token, role: view.role, responderPeerAddrs: n1.addrs() }))
      const result = await b.manager.initiateBootstrap(link, b.node)
      return { tallyId: result.tally.tallyId, grant: result.dbConnectionInfo.credentials }
    }
    let b = await world.party()
    const first = await bootstrap(b)
    const second = await bootstrap(b)
    const c = await world.party()
    // only node 2 answers from now on
    await stopNode(n1)

    const openAtTwo = async (from: DbParty, tallyId: string, grant: string): Promise<string> => {
      const adapter = new Libp2pNetworkAdapter(from.node)
      try {
        const opened = await adapter.open(
          peerIdFromString(n2.peerId),
          n2.addrs().map((a) => multiaddr(a)),
          tallyId,
          grant,
          { signal: AbortSignal.timeout(WAIT_MS) }
        )
        return opened.documentId
      } catch (err) {
        return (err as Error).name
      } finally {
        await adapter.stop()
      }
    }
    // the customer's own tally database holds the protocol: close it to speak it by hand
    await b.db.close()
    expect(await openAtTwo(c, first.tallyId, first.grant)).toBe('GrantRefusedError')
    const flipped = first.grant.slice(0, -2) + (first.grant.endsWith('AA') ? 'AB' : 'AA')
    expect(await openAtTwo(b, first.tallyId, flipped)).toBe('GrantRefusedError')
    expect(await openAtTwo(b, second.tallyId, first.grant)).toBe('GrantRefusedError')
    expect(await openAtTwo(b, 'no-such-tally', first.grant)).toBe('GrantRefusedError')
    // the control: the right grant from the right peer opens, on the node that did not create it
    expect(await openAtTwo(b, first.tallyId, first.grant)).toMatch(/^[1-9A-HJ-NP-Za-km-z]+$/)

    // the customer syncs through node 2: a live channel carries the document there
    b = await world.restart(b)
    expect(await b.db.sync(first.tallyId, { signal: AbortSignal.timeout(WAIT_MS) })).toBe(true)
    await until(
      async () => ((await n2.db.read(first.tallyId))?.connected === true ? true : undefined),
      WAIT_MS
    )

    // node 1 comes back and revokes: node 2 stops carrying the document and refuses the grant
    n1 = await cadreNode(d1)
    await n1.db.revoke(first.tallyId)
    await until(async () => {
      const view = await n2.db.read(first.tallyId)
      return view?.revoked === true && !view.connected ? true : undefined
    }, WAIT_MS)
    await b.db.close()
    expect(await openAtTwo(b, first.tallyId, first.grant)).toBe('GrantRefusedError')
    expect(await openAtTwo(b, second.tallyId, second.grant)).toMatch(/^[1-9A-HJ-NP-Za-km-z]+$/)
  }, 180_000)
})
