/** Sessions screen's "Show" filter: it finds rows by what they show, in the operator's words. */
import { cliDial, createTokenInUi, expect, test } from './fixtures.ts'

test('"Timed out" finds a customer nobody approved in time, as its Result says, and not "Failed"', async ({
  taleus: { page }
}) => {
  const quick = await createTokenInUi(page, { label: 'Quick', uses: 'unlimited', requirements: 'name' })
  expect((await cliDial(quick, { name: 'Ann' })).code).toBe(0)

  await page.getByTestId('token-label').fill('Slow desk')
  await page.getByTestId('token-requirements').fill('name')
  await page.getByTestId('token-approval-operator').check()
  await page.getByTestId('token-approval-timeout').fill('1')
  await page.getByTestId('token-create').click()
  await expect(page.getByTestId('qr-panel').filter({ hasText: 'Slow desk' })).toBeVisible()
  const slow = await page.getByTestId('token-link').inputValue()
  expect((await cliDial(slow, { name: 'Cy' })).reason).toBe('timeout')

  await page.getByTestId('nav-sessions').click()
  await expect(page.getByTestId('session-count')).toHaveText(/^2 shown · 0 in progress/)
  const rows = page.getByTestId('session-row')
  const filter = page.getByTestId('session-filter')

  await filter.selectOption({ label: 'Timed out' })
  await expect(page.getByTestId('session-count')).toHaveText(/^1 shown/)
  await expect(rows).toHaveCount(1)
  await expect(rows.getByTestId('session-result')).toHaveText('Timed out')
  await expect(rows.getByTestId('session-token')).toHaveText('Slow desk')
  // it shows as timed out, so it is not among the failures as well
  await filter.selectOption({ label: 'Failed' })
  await expect(page.getByTestId('session-count')).toHaveText(/^0 shown/)
  await filter.selectOption({ label: 'Done' })
  await expect(rows).toHaveCount(1)
  await expect(rows.getByTestId('session-token')).toHaveText('Quick')

  await filter.selectOption({ label: 'All' })
  await expect(rows).toHaveCount(2)
})

test('the filter lists each step once, in the operator’s words; the state codes are in its tooltip', async ({
  taleus: { page }
}) => {
  await page.getByTestId('nav-sessions').click()
  const filter = page.getByTestId('session-filter')
  // the screen may still be rendering; evaluateAll does not wait for options the way a locator assertion does
  await expect(filter.locator('option', { hasText: 'Checking contact' })).toHaveCount(1)
  const options = await filter
    .locator('option')
    .evaluateAll((els) =>
      els.map((el) => ({ text: el.textContent?.trim() ?? '', title: el.getAttribute('title') }))
    )
  const texts = options.map((o) => o.text)
  expect(texts.filter((t) => /\b[LD]_[A-Z]/.test(t))).toEqual([])
  expect(new Set(texts).size).toBe(texts.length)
  expect(texts).toContain('Checking contact')
  expect(options.find((o) => o.text === 'Awaiting confirmation')?.title).toBe('L_AWAIT_ACK, D_AWAIT_ACK')
  await filter.selectOption({ label: 'Awaiting confirmation' })
  await expect(page.getByTestId('session-count')).toHaveText(/^0 shown/)
})
