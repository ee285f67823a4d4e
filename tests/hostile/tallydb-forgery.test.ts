/**
 * A counterparty that forges the shared document. An outside review found that a customer holding a grant
 * could write any change into the tally's document, e.g. its own proposal "accepted" by the merchant with
 * the merchant's log entry. Here the merchant is `taleus serve` in its own process; the customer bootstraps
 * honestly (a real store and TallyDb), then writes into its replica with automerge-repo directly, as an
 * attacker with the library would: an honest proposal reaches the merchant (the channel works), the forged
 * acceptance does not, the merchant's terms stay, and its API says what it refused.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseLink } from '../../main/bootstrap/index.ts'
import type { TallyDocumentView } from '../../preload/contract.ts'
import { ForgingCustomer } from '../helpers/forging-customer.ts'
import { DbWorld, until } from '../helpers/tallydb-party.ts'
import { ensureBuilt, startServe } from './serve-process.ts'
import type { ServeChild } from './serve-process.ts'

const TERMS = { stockCreditLimit: 500, foilCreditLimit: 100, unit: 'CHIP' }

describe('a counterparty forging the shared document', () => {
  const world = new DbWorld()
  let dir: string
  let serve: ServeChild | undefined
  beforeAll(async () => {
    await ensureBuilt()
    dir = await mkdtemp(join(tmpdir(), 'taleus-forgery-'))
  }, 180_000)
  afterAll(async () => {
    serve?.child.kill('SIGTERM')
    await serve?.exited
    await world.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('its forged acceptance in the merchant’s name is refused; an honest proposal passes; the merchant says why', async () => {
    serve = await startServe(dir)
    const created = await serve.api<{ link: string }>('POST', '/api/tokens', {
      role: 'stock',
      uses: 'unlimited',
      terms: TERMS
    })
    const customer = await ForgingCustomer.bootstrap(world, created.link)
    const { tallyId } = customer
    const merchant = serve.ready.peerId
    const doc = async (): Promise<TallyDocumentView> =>
      serve!.api<TallyDocumentView>('GET', `/api/tallies/document?tallyId=${encodeURIComponent(tallyId)}`)
    try {
      // honest: its own proposal reaches the merchant, so the channel carries changes
      customer.propose('honest', { note: 'net 45' })
      await until(async () =>
        (await doc()).document.proposals.some((p) => p.proposalId === 'honest') ? true : undefined
      )

      // forged: a limit of a billion, "accepted" by the merchant, with the merchant's log entry
      customer.forgeAcceptance('forged', { foilCreditLimit: 1e9 })
      const refused = await until(async () => {
        const view = await doc()
        return view.refused !== null ? view : undefined
      })
      expect(refused.refused?.reason).toMatch(/this node's name/)
      // its proposal may have passed on its own (a step it may take); the acceptance did not
      expect(refused.document.proposals.every((p) => p.status === 'open')).toBe(true)
      expect(refused.document.proposals.map((p) => p.proposalId)).toContain('honest')
      expect(refused.document.terms).toEqual(TERMS)
      expect(refused.document.log.every((e) => e.by === merchant || e.kind === 'proposed')).toBe(true)
      // the customer's own copy holds the forgery; the merchant's, which the console shows, does not
      expect(customer.doc().terms.foilCreditLimit).toBe(1e9)
      // the node goes on serving: another customer bootstraps
      const other = await world.party()
      await expect(
        other.manager.initiateBootstrap(parseLink(created.link), other.node)
      ).resolves.toBeDefined()
      expect(serve.stdout() + serve.stderr()).not.toContain(customer.grant)
    } finally {
      await customer.stop()
    }
  }, 120_000)
})
