/** Dial screen: the console dials a second `taleus serve` node's link and shows progress and result. */
import { expect, startServe, test, type ServeNode } from './fixtures.ts'

let other: ServeNode | undefined
test.afterEach(async () => {
  await other?.stop()
  other = undefined
})

test('a manual dial to another node shows its steps and the new tally', async ({ taleus: { page } }) => {
  other = await startServe()
  const token = await other.call<{ link: string }>('POST', '/api/tokens', {
    role: 'foil',
    label: 'Market stall',
    identityRequirements: ['name']
  })

  await page.getByTestId('nav-dial').click()
  await page.getByTestId('dial-input').fill(token.link)
  await expect(page.getByTestId('dial-link-info')).toBeVisible()
  await expect(page.getByTestId('dial-link-error')).toHaveCount(0)
  await page.getByTestId('identity-name').fill('Merchant One')
  await page.getByTestId('dial-submit').click()

  const result = page.getByTestId('dial-result')
  await expect(result).toHaveAttribute('data-ok', 'true')
  // Progress lists the dialer's states up to the end.
  // Once the dial ends the list is the session's whole timeline: contact, reply, …, done.
  const steps = page.getByTestId('dial-progress').getByTestId('state-badge')
  await expect(page.getByTestId('dial-progress')).toContainText(/done/i)
  await expect.poll(() => steps.count()).toBeGreaterThanOrEqual(4)

  // The tally named on screen is the one the other node now holds.
  const tallies = await other.call<Array<{ tallyId: string; counterpartyPeerId: string }>>(
    'GET',
    '/api/tallies'
  )
  expect(tallies).toHaveLength(1)
  await expect(result).toContainText(tallies[0]?.tallyId ?? '-')

  await page.getByTestId('nav-sessions').click()
  await expect(page.locator('[data-testid=session-row][data-state=D_DONE]')).toHaveCount(1)
})

test('a dial the other node refuses says why in words', async ({ taleus: { page } }) => {
  other = await startServe()
  const token = await other.call<{ link: string; tokenId: string }>('POST', '/api/tokens', { role: 'stock' })
  await other.call('POST', '/api/tokens/revoke', { tokenId: token.tokenId })

  await page.getByTestId('nav-dial').click()
  await page.getByTestId('dial-input').fill(token.link)
  await page.getByTestId('dial-submit').click()
  const result = page.getByTestId('dial-result')
  await expect(result).toHaveAttribute('data-ok', 'false')
  await expect(result).toHaveAttribute('data-reason', 'token-revoked')
  await expect(page.getByTestId('dial-reason')).toContainText(/revoked/i)
})
