/** New-token form: empty or out-of-range fields get a message in plain words and nothing is saved. */
import { expect, test } from './fixtures.ts'

test('empty wait, empty uses and a bad field name are explained inline and nothing is saved', async ({
  taleus: { page, node }
}) => {
  await page.getByTestId('token-label').fill('Needs checking')
  await page.getByTestId('token-approval-operator').check()
  await page.getByTestId('token-approval-timeout').fill('')
  await page.getByTestId('token-create').click()
  await expect(page.getByTestId('error-approvalSeconds')).toHaveText(
    'Enter how many seconds to wait (1–86400).'
  )
  await expect(page.getByTestId('token-approval-timeout')).toHaveAttribute('aria-invalid', 'true')

  await page.getByTestId('token-uses-n').check()
  await page.getByTestId('token-uses-count').fill('')
  await page.getByTestId('token-requirements').fill('email, e mail')
  await page.getByTestId('token-create').click()
  await expect(page.getByTestId('error-usesN')).toContainText('Enter how many times the code can be used')
  await expect(page.getByTestId('error-requirements')).toContainText('“e mail” is not a field name')
  await page.getByTestId('token-approval-timeout').fill('90000')
  await page.getByTestId('token-create').click()
  await expect(page.getByTestId('error-approvalSeconds')).toBeVisible()
  // No raw schema path anywhere on the page.
  await expect(page.locator('body')).not.toContainText('identityRequirements')
  await expect(page.getByTestId('token-row')).toHaveCount(0)

  // Each fix clears its own message; then the token is saved with exactly what was typed.
  await page.getByTestId('token-approval-timeout').fill('30')
  await expect(page.getByTestId('error-approvalSeconds')).toHaveCount(0)
  await page.getByTestId('token-uses-count').fill('3')
  await expect(page.getByTestId('error-usesN')).toHaveCount(0)
  await page.getByTestId('token-requirements').fill('email, name')
  await expect(page.getByTestId('error-requirements')).toHaveCount(0)
  await page.getByTestId('token-create').click()
  await expect(page.getByTestId('token-row')).toHaveCount(1)
  if (node != null) {
    const tokens = await node.call<
      { uses: unknown; approvalTimeoutMs: number; identityRequirements: string[] }[]
    >('GET', '/api/tokens')
    expect(tokens.map((t) => [t.uses, t.approvalTimeoutMs, t.identityRequirements])).toEqual([
      [3, 30_000, ['email', 'name']]
    ])
  }
})
