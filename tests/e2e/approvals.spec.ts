/** Approvals screen: the operator approves one customer and rejects another; each dialer learns which. */
import { cliDial, createTokenInUi, expect, test } from './fixtures.ts'

test('approve one and reject one: each dialer gets its outcome and the table shows it', async ({
  taleus: { page }
}) => {
  const link = await createTokenInUi(page, {
    label: 'Needs approval',
    uses: 5,
    requirements: 'email, name',
    approval: 'operator'
  })
  const ann = cliDial(link, { email: 'ann@shop.example', name: 'Ann' })
  const rob = cliDial(link, { email: 'rob@shop.example', name: 'Rob' })

  // The badge counts waiting sessions from any screen.
  await expect(page.getByTestId('approvals-badge')).toHaveText('2')
  await page.getByTestId('nav-approvals').click()
  const annRow = page.getByTestId('approval-row').filter({ hasText: 'ann@shop.example' })
  const robRow = page.getByTestId('approval-row').filter({ hasText: 'rob@shop.example' })
  await expect(annRow.getByTestId('approval-bundle')).toContainText('Ann')
  await expect(annRow).toContainText('Needs approval')
  await expect(annRow.getByTestId('approval-countdown')).toContainText('left')
  const annSession = await annRow.getAttribute('data-session-id')
  const robSession = await robRow.getAttribute('data-session-id')

  await annRow.getByTestId('approve-button').click()
  await robRow.getByTestId('reject-button').click()
  const [annRun, robRun] = await Promise.all([ann, rob])
  expect(annRun.code).toBe(0)
  expect(annRun.result?.ok).toBe(true)
  expect(robRun.code).toBe(1)
  expect(robRun.reason).toBe('identity-rejected')

  await expect(page.getByTestId('approvals-empty')).toBeVisible()
  await expect(page.getByTestId('approvals-badge')).toHaveCount(0)

  await page.getByTestId('nav-sessions').click()
  const annSessionRow = page.locator(`[data-testid=session-row][data-session-id="${annSession}"]`)
  const robSessionRow = page.locator(`[data-testid=session-row][data-session-id="${robSession}"]`)
  await expect(annSessionRow).toHaveAttribute('data-state', 'L_DONE')
  await expect(annSessionRow.getByTestId('session-result')).toHaveAttribute(
    'title',
    annRun.result?.tallyId ?? '-'
  )
  await expect(robSessionRow).toHaveAttribute('data-state', 'L_FAILED')
  await expect(robSessionRow.getByTestId('session-result')).toHaveText('Identity rejected')
})

test('a customer who leaves while waiting: the card goes, the row says the customer left, no "nobody approved" notice', async ({
  taleus: { page }
}) => {
  const link = await createTokenInUi(page, {
    label: 'Counter',
    uses: 5,
    requirements: 'name',
    approval: 'operator'
  })
  const away = new AbortController()
  const jo = cliDial(link, { name: 'Jo' }, away.signal)
  await expect(page.getByTestId('approvals-badge')).toHaveText('1')
  away.abort()
  await jo
  await expect(page.getByTestId('approvals-badge')).toHaveCount(0)
  await page.getByTestId('nav-sessions').click()
  await expect(page.getByTestId('session-result').first()).toHaveText('Customer left')
  await expect(page.getByTestId('timed-out-banner')).toHaveCount(0)
  await expect(page.locator('body')).not.toContainText('Something went wrong')
})
