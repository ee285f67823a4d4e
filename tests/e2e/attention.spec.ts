/** A waiting customer gets the operator's attention: title, desktop notification, countdown words, timeout notice. */
import { cliDial, createTokenInUi, expect, test } from './fixtures.ts'

test('a pending approval changes the title, notifies, says what happens at zero and leaves a notice', async ({
  taleus: { page }
}) => {
  await page.context().grantPermissions(['notifications'])
  await page.evaluate(() => {
    const shown: string[] = []
    ;(window as unknown as { __shown: string[] }).__shown = shown
    class FakeNotification {
      static permission = 'granted'
      static requestPermission(): Promise<string> {
        return Promise.resolve('granted')
      }
      onclick: (() => void) | null = null
      constructor(title: string, options?: { body?: string }) {
        shown.push(`${title} | ${options?.body ?? ''}`)
      }
      close(): void {}
    }
    ;(window as unknown as { Notification: unknown }).Notification = FakeNotification
  })
  await page.getByTestId('nav-tokens').click()
  await page.getByTestId('token-label').fill('Slow desk')
  await page.getByTestId('token-requirements').fill('name')
  await page.getByTestId('token-approval-operator').check()
  await page.getByTestId('token-approval-timeout').fill('4')
  await page.getByTestId('token-create').click()
  await expect(page.getByTestId('token-link')).toHaveValue(/^taleus:/)
  const link = await page.getByTestId('token-link').inputValue()

  const run = cliDial(link, { name: 'Cy' })
  await expect(page).toHaveTitle(/^\(1\) /)
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { __shown: string[] }).__shown.join('\n')))
    .toContain('Cy')
  await page.getByTestId('nav-approvals').click()
  await expect(page.getByTestId('approval-at-zero')).toContainText('refused')
  expect((await run).reason).toBe('timeout')
  await expect(page.getByTestId('approval-timed-out')).toContainText('Cy')
  await expect(page).toHaveTitle(/^Taleus/)
  await createTokenInUi(page, { label: 'After' })
  // The notice stays until the operator dismisses it.
  await page.getByTestId('nav-approvals').click()
  await expect(page.getByTestId('approval-timed-out')).toBeVisible()
})
