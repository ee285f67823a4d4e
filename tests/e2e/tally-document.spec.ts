/**
 * The tally page's shared document (issue I): a token with standing terms, a second `taleus serve` as
 * the counterparty dialling it, then proposals both ways, each side seeing the other's live.
 */
import type {
  DialOutcome,
  OperationView,
  TallyDocumentView,
  TermsProposal,
  TokenView
} from '../../preload/contract.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ForgingCustomer } from '../helpers/forging-customer.ts'
import { DbWorld } from '../helpers/tallydb-party.ts'
import type { Locator, Page } from '@playwright/test'
import { expect, startServe, test } from './fixtures.ts'
import type { ServeNode } from './fixtures.ts'

test('the tally page shows the shared terms, sync state and proposals live, and proposes and accepts', async ({
  taleus: { page, node }
}) => {
  test.skip(node == null, 'the counterparty dials the browser console’s own node')
  if (node == null) return

  // Standing terms on a token, checked in words before anything is sent
  await page.getByTestId('nav-tokens').click()
  await page.getByTestId('token-label').fill('Bakery terms')
  await page.getByTestId('token-terms-toggle').click()
  await page.getByTestId('token-terms-you-lend').fill('12,5')
  await page.getByTestId('token-terms-unit').fill('CHIP')
  await page.getByTestId('token-terms-note').fill('Settle by the 1st')
  await page.getByTestId('token-create').click()
  await expect(page.getByTestId('token-terms-error-youLend')).toContainText('is not an amount')
  await expect(page.getByTestId('token-terms-you-lend')).toBeFocused()
  expect(await node.call<TokenView[]>('GET', '/api/tokens')).toHaveLength(0)
  await page.getByTestId('token-terms-you-lend').fill('500')
  await expect(page.getByTestId('token-terms-error-youLend')).toHaveCount(0)
  await page.getByTestId('token-terms-they-lend').fill('0')
  await page.getByTestId('token-create').click()
  await expect(page.getByTestId('token-link')).toHaveValue(/^taleus:/)
  const link = await page.getByTestId('token-link').inputValue()
  const [token] = await node.call<TokenView[]>('GET', '/api/tokens')
  // this node is the stock: "you let them owe" is the stock's limit
  expect(token?.terms).toEqual({
    stockCreditLimit: 500,
    foilCreditLimit: 0,
    unit: 'CHIP',
    note: 'Settle by the 1st'
  })

  const peer = await startServe()
  try {
    const { sessionId } = await peer.call<{ sessionId: string }>('POST', '/api/dial', {
      link,
      identity: { name: 'Peer Shop' }
    })
    const outcome = await peer.call<DialOutcome>('POST', '/api/dial/wait', { sessionId })
    if (!outcome.ok) throw new Error(`the counterparty's dial failed: ${outcome.reason}`)
    const { tallyId } = outcome
    const theirDoc = async (): Promise<TallyDocumentView> =>
      peer.call<TallyDocumentView>('GET', `/api/tallies/document?tallyId=${encodeURIComponent(tallyId)}`)

    await page.getByTestId('nav-tallies').click()
    await page.getByTestId('tally-row').first().getByTestId('tally-open').click()
    const doc = page.getByTestId('tally-document')
    await expect(doc.getByTestId('doc-term-stockCreditLimit')).toHaveText('500 CHIP')
    await expect(doc.getByTestId('doc-terms')).toContainText('You let them owe up to')
    await expect(doc.getByTestId('doc-term-foilCreditLimit')).toHaveText('0 CHIP')
    await expect(doc.getByTestId('doc-term-note')).toHaveText('Settle by the 1st')
    await expect(doc.getByTestId('doc-sync')).toHaveAttribute('data-sync', /^(synced|unreachable)$/)
    await expect(doc.getByTestId('proposals-empty')).toBeVisible()

    // The counterparty proposes through its own API: the operator sees it live and accepts it
    const theirs = await peer.call<TermsProposal>('POST', '/api/tallies/propose', {
      tallyId,
      terms: { foilCreditLimit: 50, note: 'Settle by the 15th' }
    })
    const their = doc.getByTestId('proposal').and(page.locator('[data-by="them"]'))
    await expect(their).toHaveAttribute('data-status', 'open')
    await expect(doc.getByTestId('doc-sync')).toHaveAttribute('data-sync', 'synced')
    await expect(doc.getByTestId('doc-last-sync')).not.toHaveText('not since this node started')
    await expect(their).toContainText(/They let you owe up to\s*50 CHIP/)
    await their.getByTestId('proposal-accept').click()
    await expect(their).toHaveAttribute('data-status', 'accepted')
    await expect(doc.getByTestId('doc-term-foilCreditLimit')).toHaveText('50 CHIP')
    await expect(doc.getByTestId('doc-term-note')).toHaveText('Settle by the 15th')
    await expect
      .poll(async () => (await theirDoc()).document.proposals.find((p) => p.proposalId === theirs.proposalId))
      .toMatchObject({ status: 'accepted', acceptedBy: node.peerId })

    // The operator proposes: nothing leaves until the form is valid, then the counterparty sees it
    await doc.getByTestId('propose-toggle').click()
    await doc.getByTestId('propose-submit').click()
    await expect(doc.getByTestId('propose-error-terms')).toContainText('at least one term')
    await doc.getByTestId('propose-unit').fill('a unit name far longer than thirty-two letters')
    await doc.getByTestId('propose-submit').click()
    await expect(doc.getByTestId('propose-error-unit')).toContainText('Keep the unit short')
    await expect(doc.getByTestId('propose-error-terms')).toHaveCount(0)
    expect((await theirDoc()).document.proposals).toHaveLength(1)
    await doc.getByTestId('propose-unit').fill('')
    await doc.getByTestId('propose-you-lend').fill('750')
    await expect(doc.getByTestId('propose-error-unit')).toHaveCount(0)
    await doc.getByTestId('propose-submit').click()
    const ours = doc.getByTestId('proposal').and(page.locator('[data-by="you"]'))
    await expect(ours).toHaveAttribute('data-status', 'open')
    await expect(ours).toContainText('Waiting for')
    await expect(ours.getByTestId('proposal-accept')).toHaveCount(0)
    await expect
      .poll(async () =>
        (await theirDoc()).document.proposals.find((p) => p.by === node.peerId && p.status === 'open')
      )
      .toMatchObject({ terms: { stockCreditLimit: 750 } })
    const open = (await theirDoc()).document.proposals.find((p) => p.by === node.peerId)
    await peer.call('POST', '/api/tallies/accept', { tallyId, proposalId: open?.proposalId })
    await expect(ours).toHaveAttribute('data-status', 'accepted')
    await expect(doc.getByTestId('doc-term-stockCreditLimit')).toHaveText('750 CHIP')

    // Their next proposal is declined; ours is withdrawn: the terms stay, the other side sees it
    const next = await peer.call<TermsProposal>('POST', '/api/tallies/propose', {
      tallyId,
      terms: { note: 'Settle weekly' }
    })
    const nextRow = doc.locator(`[data-testid=proposal][data-by="them"][data-status="open"]`)
    await expect(nextRow).toContainText('Settle weekly')
    await nextRow.getByTestId('proposal-decline').click()
    await expect(doc.getByTestId('doc-notice')).toContainText('Declined')
    await expect
      .poll(async () => (await theirDoc()).document.proposals.find((p) => p.proposalId === next.proposalId))
      .toMatchObject({ status: 'declined', closedBy: node.peerId })
    await doc.getByTestId('propose-you-lend').fill('900')
    await doc.getByTestId('propose-submit').click()
    const mine = doc.locator(`[data-testid=proposal][data-by="you"][data-status="open"]`)
    await expect(mine).toContainText('900')
    await mine.getByTestId('proposal-withdraw').click()
    await expect(doc.getByTestId('doc-notice')).toContainText('Withdrawn')
    await expect(doc.locator(`[data-testid=proposal][data-status="open"]`)).toHaveCount(0)
    await expect(doc.getByTestId('doc-term-stockCreditLimit')).toHaveText('750 CHIP')
    await expect(doc.getByTestId('doc-term-note')).toHaveText('Settle by the 15th')
    // the operator's negotiation is in the audit trail's operator records, with who did it
    const ops = await node.call<OperationView[]>('GET', '/api/audit/operations')
    for (const op of ['terms-propose', 'terms-accept', 'terms-decline', 'terms-withdraw'])
      expect(ops.find((o) => o.op === op && o.tallyId === tallyId)?.actor, op).toBe('browser')
    const theirOps = await peer.call<OperationView[]>('GET', '/api/audit/operations')
    expect(theirOps.find((o) => o.op === 'dial')?.sessionId).toBe(sessionId)

    // We dial the counterparty's own link: that tally (outbound, no identity disclosed) still names them
    const theirToken = await peer.call<{ link: string }>('POST', '/api/tokens', {
      role: 'stock',
      label: 'Back'
    })
    const back = await node.call<{ sessionId: string }>('POST', '/api/dial', { link: theirToken.link })
    const backOutcome = await node.call<DialOutcome>('POST', '/api/dial/wait', back)
    expect(backOutcome.ok).toBe(true)
    await page.getByTestId('nav-tallies').click()
    const outbound = page
      .getByTestId('tally-row')
      .filter({ has: page.locator('td', { hasText: /^outbound$/ }) })
    await expect(outbound.getByTestId('tally-counterparty-name')).toHaveText('Peer Shop')
    await page.getByTestId('nav-sessions').click()
    await expect(
      page
        .locator(`[data-testid=session-row][data-session-id="${back.sessionId}"]`)
        .getByTestId('session-peer')
    ).toHaveText('Peer Shop')
    await page.getByTestId('nav-tallies').click()
    await page
      .getByTestId('tally-row')
      .filter({ has: page.locator('td', { hasText: /^inbound$/ }) })
      .getByTestId('tally-open')
      .click()

    // The counterparty goes away: the page says so, calmly
    await peer.halt()
    await expect(doc.getByTestId('doc-sync')).toHaveAttribute('data-sync', 'unreachable')
    await expect(doc.getByTestId('doc-sync')).toHaveText('Counterparty offline')

    // Our own node goes away: the page no longer reads as live
    await node.halt()
    await expect(doc.getByTestId('doc-sync')).toHaveText('Your node is not answering', { timeout: 30_000 })
    const again = await startServe({ dataDir: node.dataDir })
    try {
      if (again.api === node.api)
        // back, and read again: the counterparty is still away (our changes wait for it since this start)
        await expect(doc.getByTestId('doc-sync')).toHaveAttribute('data-sync', /^(unreachable|not-yet)$/, {
          timeout: 30_000
        })
    } finally {
      await again.halt()
    }
  } finally {
    await peer.stop()
  }
})

/**
 * A token with standing terms (200 CHIP), a customer that bootstraps on it with the library and writes
 * into its replica directly, and the tally page of its tally open: `fn` gets the page's document section.
 */
async function withCustomerOnTallyPage(
  page: Page,
  node: ServeNode,
  fn: (customer: ForgingCustomer, doc: Locator) => Promise<void>
): Promise<void> {
  const created = await node.call<{ link: string }>('POST', '/api/tokens', {
    role: 'stock',
    uses: 'unlimited',
    label: 'Counter',
    terms: { stockCreditLimit: 200, unit: 'CHIP' }
  })
  const world = new DbWorld()
  try {
    const customer = await ForgingCustomer.bootstrap(world, created.link)
    try {
      await page.getByTestId('nav-tallies').click()
      await page.getByTestId('tally-row').first().getByTestId('tally-open').click()
      const doc = page.getByTestId('tally-document')
      await expect(doc.getByTestId('doc-term-stockCreditLimit')).toHaveText('200 CHIP')
      await fn(customer, doc)
    } finally {
      await customer.stop()
    }
  } finally {
    await world.close()
  }
}

test('a counterparty that forges an acceptance in our name: the tally page says its changes were refused', async ({
  taleus: { page, node }
}) => {
  test.skip(node == null, 'the forging customer dials the browser console’s own node')
  if (node == null) return
  await withCustomerOnTallyPage(page, node, async (customer, doc) => {
    // an honest proposal arrives live; then one "accepted" by us, which we never did
    customer.propose('honest', { note: 'Settle monthly' })
    await expect(doc.getByTestId('proposal').and(page.locator('[data-by="them"]'))).toHaveAttribute(
      'data-status',
      'open'
    )
    customer.forgeAcceptance('forged', { foilCreditLimit: 1_000_000 })
    await expect(doc.getByTestId('doc-sync')).toHaveAttribute('data-sync', 'refused')
    await expect(doc.getByTestId('doc-sync')).toHaveText('Their changes refused')
    await expect(doc.getByTestId('doc-sync-text')).toContainText("in this node's name")
    await expect(doc.getByTestId('doc-sync-text')).toContainText('This copy kept none of it')
    await expect(doc.getByTestId('doc-terms')).not.toContainText('1,000,000')
    await expect(doc.locator('[data-testid=proposal][data-status="accepted"]')).toHaveCount(0)
    await page.screenshot({ path: join(tmpdir(), 'taleus-e2e-results', 'tally-refused.png') })
  })
})

test('an acceptance that crossed the operator’s withdrawal: the page says it does not count, and the terms stay', async ({
  taleus: { page, node }
}) => {
  test.skip(node == null, 'the customer dials the browser console’s own node')
  if (node == null) return
  await withCustomerOnTallyPage(page, node, async (customer, doc) => {
    // the operator offers more credit; the customer's copy has it
    await doc.getByTestId('propose-toggle').click()
    await doc.getByTestId('propose-you-lend').fill('300')
    await doc.getByTestId('propose-submit').click()
    const ours = doc.getByTestId('proposal').and(page.locator('[data-by="you"]'))
    await expect(ours).toHaveAttribute('data-status', 'open')
    await expect.poll(() => Object.keys(customer.doc().proposals ?? {}).length).toBe(1)
    const [proposalId] = Object.keys(customer.doc().proposals) as [string]
    const offline = customer.offlineCopy()
    // the operator thinks better of it while the customer, offline, accepts
    await ours.getByTestId('proposal-withdraw').click()
    await expect(doc.getByTestId('doc-notice')).toContainText('Withdrawn')
    await expect.poll(() => String(customer.doc().proposals[proposalId]?.status)).toBe('withdrawn')
    customer.acceptOffline(offline, proposalId)
    await expect(ours.getByTestId('proposal-crossed')).toContainText(
      'accepted it before hearing of this; the acceptance does not count'
    )
    await expect(ours).toHaveAttribute('data-status', 'withdrawn')
    await expect(doc.getByTestId('doc-term-stockCreditLimit')).toHaveText('200 CHIP')
    // an honest step, crossed in flight: taken, not refused
    await expect(doc.getByTestId('doc-sync')).not.toHaveAttribute('data-sync', 'refused')
    const view = await node.call<TallyDocumentView>(
      'GET',
      `/api/tallies/document?tallyId=${encodeURIComponent(customer.tallyId)}`
    )
    expect(view.refused).toBeNull()
    expect(view.document.terms.stockCreditLimit).toBe(200)
    await ours.scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(tmpdir(), 'taleus-e2e-results', 'tally-crossed.png') })
  })
})

test('an acceptance the customer has not confirmed yet: the page says so and the terms stay until it does', async ({
  taleus: { page, node }
}) => {
  test.skip(node == null, 'the customer dials the browser console’s own node')
  if (node == null) return
  await withCustomerOnTallyPage(page, node, async (customer, doc) => {
    customer.propose('weekly', { note: 'Settle weekly' })
    const their = doc.getByTestId('proposal').and(page.locator('[data-by="them"]'))
    await expect(their).toHaveAttribute('data-status', 'open')
    await their.getByTestId('proposal-accept').click()
    await expect(doc.getByTestId('doc-notice')).toContainText('The terms change once')
    await expect(their).toHaveAttribute('data-status', 'awaiting-confirmation')
    await expect(their.getByTestId('proposal-awaiting')).toContainText('You accepted it')
    await expect(doc.getByTestId('doc-terms')).not.toContainText('Settle weekly')
    await their.scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(tmpdir(), 'taleus-e2e-results', 'tally-awaiting.png') })
    // the customer's node confirms: the agreement counts on the operator's page
    await expect.poll(() => String(customer.doc().proposals.weekly?.status)).toBe('accepted')
    customer.confirm('weekly')
    await expect(their).toHaveAttribute('data-status', 'accepted')
    await expect(their).toContainText('confirmed')
    await expect(doc.getByTestId('doc-term-note')).toHaveText('Settle weekly')
    await expect(doc.getByTestId('doc-sync')).not.toHaveAttribute('data-sync', 'refused')
  })
})
