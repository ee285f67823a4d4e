/** Tokens screen: a multi-use token's QR code, read back from screenshots, is exactly its link. */
import { createTokenInUi, decodeQrPng, expect, test } from './fixtures.ts'

test('a multi-use token shows a QR code that decodes to its link', async ({ taleus: { page } }) => {
  const link = await createTokenInUi(page, { label: 'Counter 1', uses: 5, requirements: 'email' })
  const row = page.getByTestId('token-row').filter({ hasText: 'Counter 1' })
  await expect(row.getByTestId('token-status')).toHaveText('active')
  await expect(row.getByTestId('token-uses')).toContainText('5')

  // Compared as booleans: a failure must not print the link (a bearer secret).
  const qr = page.getByTestId('token-qr')
  await expect.poll(async () => decodeQrPng(await qr.screenshot()) === link).toBe(true)

  // The customer display shows the same code, large, and Escape closes it.
  await page.getByTestId('qr-fullscreen').click()
  const display = page.getByTestId('qr-display-image')
  await expect.poll(async () => decodeQrPng(await display.screenshot()) === link).toBe(true)
  await page.keyboard.press('Escape')
  await expect(page.getByTestId('qr-display')).toHaveCount(0)
})
