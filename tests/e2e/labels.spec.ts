/** Session labels say what happens: waiting for the operator, an unreachable node, the role in words. */
import { cliDial, createTokenInUi, expect, startServe, test } from './fixtures.ts'

test('a session waiting for approval says so with its token and role', async ({ taleus: { page } }) => {
  const link = await createTokenInUi(page, {
    label: 'Desk',
    uses: 2,
    requirements: 'name',
    approval: 'operator'
  })
  const ann = cliDial(link, { name: 'Ann Lee' })
  await expect(page.getByTestId('approvals-badge')).toHaveText('1')
  await page.getByTestId('nav-sessions').click()
  const row = page.getByTestId('session-row').first()
  await expect(row.getByTestId('state-badge')).toHaveText('Waiting for your approval')
  await expect(row.getByTestId('session-token')).toHaveText('Desk')
  await expect(row.getByTestId('session-role')).toHaveText('stock')
  await expect(row.getByTestId('session-peer')).toHaveText('Ann Lee')
  await row.click()
  await expect(page.getByTestId('session-counterparty')).toContainText('Ann Lee')
  await expect(page.getByTestId('session-role-sentence')).toHaveText(
    "You are the stock: your node keeps the tally's shared document; the customer is the foil."
  )
  await page.getByTestId('nav-approvals').click()
  await expect(page.getByTestId('approval-who')).toHaveText('Ann Lee')
  await page.getByTestId('approve-button').click()
  expect((await ann).code).toBe(0)
})

test('a node that is not there is "Could not reach the other node", not an internal error', async ({
  taleus: { page }
}) => {
  const other = await startServe()
  const token = await other.call<{ link: string }>('POST', '/api/tokens', { role: 'stock', label: 'Gone' })
  await other.stop()
  await page.getByTestId('nav-dial').click()
  await page.getByTestId('dial-input').fill(token.link)
  await expect(page.getByTestId('dial-role')).toContainText('You are the foil')
  await page.getByTestId('dial-submit').click()
  await expect(page.getByTestId('dial-result')).toHaveAttribute('data-ok', 'false', { timeout: 60_000 })
  await expect(page.getByTestId('dial-reason')).toContainText('Could not reach the other node')
  // and why, in words: the node's port is closed now
  await expect(page.getByTestId('dial-reason')).toContainText('nothing is listening there')
  await page.getByTestId('nav-sessions').click()
  await expect(page.getByTestId('session-result').first()).toHaveText('Could not reach the other node')
  await expect(page.locator('body')).not.toContainText('Internal error')
})
