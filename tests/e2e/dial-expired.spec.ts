/** The Dial screen: an expired link shows as expired and cannot be dialled. */
import { expect, startServe, test } from './fixtures.ts'

test('an expired link says so and Dial is disabled with the reason', async ({ taleus: { page } }) => {
  const other = await startServe()
  try {
    const token = await other.call<{ link: string; expiresAt: number }>('POST', '/api/tokens', {
      role: 'stock',
      label: 'Short',
      expiresInMs: 1000
    })
    await expect.poll(() => Date.now() > token.expiresAt + 200).toBe(true)
    await page.getByTestId('nav-dial').click()
    await page.getByTestId('dial-input').fill(token.link)
    await expect(page.getByTestId('dial-expiry')).toContainText('Expired')
    await expect(page.getByTestId('dial-submit')).toBeDisabled()
    await expect(page.getByTestId('dial-blocked')).toContainText('This link has expired')
    await expect(page.getByTestId('dial-link-info')).not.toContainText('Valid until')
  } finally {
    await other.stop()
  }
})
