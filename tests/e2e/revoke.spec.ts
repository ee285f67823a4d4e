/** Revoking a token in the console: the next customer is refused and the session row says why. */
import { cliDial, createTokenInUi, expect, test } from './fixtures.ts'

test('a revoked token refuses the next dial and the row says why', async ({ taleus: { page } }) => {
  const link = await createTokenInUi(page, { label: 'Counter 2', uses: 'unlimited' })
  const row = page.getByTestId('token-row').filter({ hasText: 'Counter 2' })
  await row.getByTestId('token-revoke').click()
  await page.getByTestId('revoke-confirm-ok').click()
  await expect(row).toHaveAttribute('data-status', 'revoked')
  await expect(row.getByTestId('token-status')).toHaveText('revoked')

  const run = await cliDial(link)
  expect(run.code).toBe(1)
  expect(run.reason).toBe('token-revoked')

  await page.getByTestId('nav-sessions').click()
  const failed = page.locator('[data-testid=session-row][data-state=L_FAILED]')
  await expect(failed).toHaveCount(1)
  await expect(failed.getByTestId('session-result')).toHaveText('Link revoked')
  await failed.click()
  await expect(page.getByTestId('session-reason')).toHaveText('The link was revoked.')
})
