/** 1000 sessions pushed through the real event stream: the virtualised table still responds. */
import { expect, test } from './fixtures.ts'

test('1000 sessions through the event stream: scroll, filter and click still respond', async ({ taleus }) => {
  const { page } = taleus
  await page.getByTestId('nav-sessions').click()
  await expect(page.getByTestId('sessions-empty')).toBeVisible()

  await taleus.injectSessions(1000)
  await expect(page.getByTestId('session-count')).toHaveText(/^1000 shown · 0 in progress/)
  const rows = page.getByTestId('session-row')
  // Virtualised: a screenful of rows in the DOM, not a thousand.
  expect(await rows.count()).toBeLessThan(80)

  const table = page.getByTestId('sessions-table')
  await table.evaluate((el) => el.scrollTo({ top: el.scrollHeight }))
  const last = page.locator('[data-testid=session-row][data-index="999"]')
  await expect(last).toBeVisible()
  const lastId = await last.getAttribute('data-session-id')
  await last.click()
  await expect(page.getByRole('complementary')).toContainText(lastId ?? '-')
  await expect(page.getByRole('complementary')).toContainText('bench-peer-')

  // Keyboard: arrow up moves to the row above.
  await last.focus()
  await page.keyboard.press('ArrowUp')
  await expect(page.locator('[data-testid=session-row][data-index="998"]')).toBeFocused()

  await page.getByTestId('session-filter').selectOption('failed')
  await expect(page.getByTestId('session-count')).toHaveText(/^100 shown/)
  await expect(page.locator('[data-testid=session-row]:not([data-state=L_FAILED])')).toHaveCount(0)
  await page.getByTestId('session-filter').selectOption('done')
  await expect(page.getByTestId('session-count')).toHaveText(/^900 shown/)
  await page.getByTestId('session-filter').selectOption('all')
  await table.evaluate((el) => el.scrollTo({ top: 0 }))
  await expect(page.locator('[data-testid=session-row][data-index="0"]')).toBeVisible()

  // The rest of the console still answers.
  await page.getByTestId('nav-tokens').click()
  await expect(page.getByTestId('tokens-empty')).toBeVisible()
  await page.getByTestId('nav-sessions').click()
  await expect(page.getByTestId('session-count')).toHaveText(/^1000 shown/)
})
