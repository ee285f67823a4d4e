/** Sessions screen: concurrent customers appear live and end in L_DONE with confirmed tallies. */
import { cliDial, createTokenInUi, expect, test } from './fixtures.ts'

test('three dialers bootstrap at once: rows reach L_DONE live, three confirmed tallies', async ({
  taleus: { page }
}) => {
  const link = await createTokenInUi(page, { label: 'Rush', uses: 'unlimited', requirements: 'email' })
  await page.getByTestId('nav-sessions').click()
  await expect(page.getByTestId('sessions-empty')).toBeVisible()

  // Three separate dialer nodes (CLI children), started together; the page is never reloaded.
  const runs = await Promise.all([1, 2, 3].map((i) => cliDial(link, { email: `c${i}@shop.example` })))
  for (const run of runs) {
    expect(run.code).toBe(0)
    expect(run.result?.ok).toBe(true)
  }
  const tallyIds = runs.map((run) => run.result?.tallyId).sort()

  const done = page.locator('[data-testid=session-row][data-state=L_DONE]')
  await expect(done).toHaveCount(3)
  await expect(page.getByTestId('session-row')).toHaveCount(3)
  await expect(page.getByTestId('session-count')).toHaveText(/^3 shown · 0 in progress/)
  for (const row of await done.all()) {
    await expect(row).toContainText('Rush')
    await expect(row.getByTestId('session-result')).toHaveText(/^tally /)
  }
  const shown = await done
    .getByTestId('session-result')
    .evaluateAll((cells) => cells.map((c) => c.getAttribute('title')))
  expect(shown.sort()).toEqual(tallyIds)

  // A row opens its timeline from the audit trail.
  await done.first().click()
  await expect(page.locator('[data-testid=timeline-event][data-state=L_DONE]')).toHaveCount(1)
  await expect(page.getByTestId('timeline-event').first()).toHaveAttribute('data-state', 'L_PROCESS_CONTACT')

  await page.getByTestId('nav-tallies').click()
  const confirmed = page.locator('[data-testid=tally-row][data-status=confirmed]')
  await expect(confirmed).toHaveCount(3)
  const listed = await confirmed.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-tally-id')))
  expect(listed.sort()).toEqual(tallyIds)
})
