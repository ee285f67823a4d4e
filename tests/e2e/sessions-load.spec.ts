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

  // a console left open for weeks keeps the finished sessions the node keeps (5000), the oldest go first
  await taleus.injectSessions(5000)
  await expect(page.getByTestId('session-count')).toHaveText(/^(4[5-9]\d\d|5000) shown · 0 in progress/, {
    timeout: 60_000
  })
  // the oldest row now is a later one than the first burst's oldest
  // (the last batches may still be arriving: scroll again until the bottom row is the last one)
  await expect(async () => {
    const shown = Number((await page.getByTestId('session-count').textContent())?.split(' ')[0])
    await table.evaluate((el) => el.scrollTo({ top: el.scrollHeight }))
    const oldest = page.locator(`[data-testid=session-row][data-index="${shown - 1}"]`)
    await expect(oldest).toBeVisible({ timeout: 1000 })
    expect(await oldest.getAttribute('data-session-id')).not.toBe(lastId)
  }).toPass({ timeout: 30_000 })
})
