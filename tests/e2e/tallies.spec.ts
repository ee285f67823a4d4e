/** Tallies screen: the CSV and JSON exports hold exactly the rows the list shows. */
import { readFile } from 'node:fs/promises'
import type { Page } from '@playwright/test'
import { cliDial, createTokenInUi, expect, test } from './fixtures.ts'

/** Cells of a CSV written by the console (every cell quoted, CRLF lines). */
function parseCsv(text: string): string[][] {
  return text
    .split('\r\n')
    .filter((line) => line !== '')
    .map((line) => [...line.matchAll(/"((?:[^"]|"")*)"/g)].map((m) => (m[1] ?? '').replaceAll('""', '"')))
}

/** Id, status, role, direction and token of each tally row on screen. */
async function rowsOnScreen(page: Page): Promise<string[][]> {
  return page.getByTestId('tally-row').evaluateAll((rows) =>
    rows.map((r) => {
      const cells = [...r.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')
      return [
        r.getAttribute('data-tally-id') ?? '',
        r.getAttribute('data-status') ?? '',
        cells[3] ?? '',
        cells[4] ?? '',
        cells[5] ?? ''
      ]
    })
  )
}

async function download(page: Page, testid: string): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testid).click()])
  return readFile(await file.path(), 'utf8')
}

test('export of tallies downloads what the list shows', async ({ taleus: { page } }) => {
  const link = await createTokenInUi(page, { label: 'Export', uses: 'unlimited' })
  const runs = await Promise.all([cliDial(link), cliDial(link)])
  for (const run of runs) expect(run.code).toBe(0)

  await page.getByTestId('nav-tallies').click()
  await expect(page.locator('[data-testid=tally-row][data-status=confirmed]')).toHaveCount(2)
  const shown = await rowsOnScreen(page)

  const csv = parseCsv(await download(page, 'export-tallies-csv'))
  expect(csv[0]).toEqual(['Tally', 'Status', 'Counterparty', 'Role', 'Direction', 'Token', 'Created'])
  expect(csv.slice(1).map((c) => [c[0], c[1], c[3], c[4], c[5]])).toEqual(shown)
  const counterparties = runs.map((run) => run.result?.remotePeerId)
  expect(new Set(counterparties).size).toBe(1) // every dialer bootstrapped with this node

  const json = JSON.parse(await download(page, 'export-tallies-json')) as Array<Record<string, string>>
  expect(json.map((t) => [t['tallyId'], t['status'], t['role'], t['direction'], t['tokenLabel']])).toEqual(
    shown
  )

  // A filter changes what is shown, and so what is exported.
  await page.getByTestId('tally-filter').selectOption('draft')
  await expect(page.getByTestId('tallies-empty')).toBeVisible()
  await expect(page.getByTestId('export-tallies-csv')).toBeDisabled()
  await page.getByTestId('tally-filter').selectOption('confirmed')
  await expect(page.getByTestId('tally-row')).toHaveCount(2)
  expect(parseCsv(await download(page, 'export-tallies-csv')).length).toBe(3)
})
