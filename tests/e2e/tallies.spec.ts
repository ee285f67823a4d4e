/**
 * Tallies screen: the CSV and JSON exports hold exactly the rows the list shows, and each export is in the
 * audit trail with who made it (the node builds the file, issue G).
 */
import { readFile } from 'node:fs/promises'
import type { Page } from '@playwright/test'
import type { OperationView } from '../../preload/contract.ts'
import { cliDial, createTokenInUi, expect, test, type ServeNode } from './fixtures.ts'

/** Cells of a CSV written by the console (every cell quoted, CRLF lines). */
function parseCsv(text: string): string[][] {
  return text
    .split('\r\n')
    .filter((line) => line !== '')
    .map((line) => [...line.matchAll(/"((?:[^"]|"")*)"/g)].map((m) => (m[1] ?? '').replaceAll('""', '"')))
}

/**
 * Each tally row on screen as the export should hold it: id, status, counterparty peer id (its
 * tooltip) and name, role, direction, token, then one cell per identity column.
 */
async function rowsOnScreen(page: Page): Promise<string[][]> {
  return page.getByTestId('tally-row').evaluateAll((rows) =>
    rows.map((r) => {
      const cells = [...r.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')
      const text = (testid: string): string =>
        r.querySelector(`[data-testid=${testid}]`)?.textContent?.trim() ?? ''
      return [
        r.getAttribute('data-tally-id') ?? '',
        r.getAttribute('data-status') ?? '',
        r.querySelector('[data-testid=tally-counterparty-peer]')?.getAttribute('title') ?? '',
        text('tally-counterparty-name'),
        cells[3] ?? '',
        cells[4] ?? '',
        cells[5] ?? '',
        ...[...r.querySelectorAll('[data-testid=tally-identity]')].map((td) => td.textContent?.trim() ?? '')
      ]
    })
  )
}

/** The export's cells in rowsOnScreen's order (Created, shown formatted on screen, left out). */
function exported(row: readonly string[]): string[] {
  return [...row.slice(0, 7), ...row.slice(8)]
}

async function download(page: Page, testid: string): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testid).click()])
  return readFile(await file.path(), 'utf8')
}

/** The `export` records of the node's audit trail, newest first. */
async function exportRecords(node: ServeNode): Promise<OperationView[]> {
  const ops = await node.call<OperationView[]>('GET', '/api/audit/operations')
  return ops.filter((op) => op.op === 'export')
}

test('export of tallies downloads what the list shows', async ({ taleus: { page, node } }) => {
  const link = await createTokenInUi(page, { label: 'Export', uses: 'unlimited', requirements: 'email' })
  const runs = await Promise.all([
    cliDial(link, { email: 'ada@example.test', name: 'Ada Lovelace' }),
    cliDial(link, { email: 'bob@example.test' })
  ])
  for (const run of runs) expect(run.code).toBe(0)

  await page.getByTestId('nav-tallies').click()
  await expect(page.locator('[data-testid=tally-row][data-status=confirmed]')).toHaveCount(2)
  const shown = await rowsOnScreen(page)
  // the name is the identity's name, else its email; the peer id stays in the tooltip
  expect(shown.map((row) => row[3]).sort()).toEqual(['Ada Lovelace', 'bob@example.test'])
  for (const row of shown) expect(row[2]).toMatch(/^12D3Koo/)
  await expect(page.getByTestId('tally-identity-header')).toHaveText(['email', 'name'])
  expect(shown.map((row) => row.slice(7)).sort()).toEqual([
    ['ada@example.test', 'Ada Lovelace'],
    ['bob@example.test', '']
  ])

  if (node != null) expect(await exportRecords(node)).toEqual([])
  const csv = parseCsv(await download(page, 'export-tallies-csv'))
  // the export is in the audit trail: made from the browser console, with its row count and filters
  if (node != null) {
    const [record, ...others] = await exportRecords(node)
    expect(others).toEqual([])
    expect(record).toMatchObject({
      actor: 'browser',
      detail: { what: 'tallies', format: 'csv', rows: shown.length }
    })
  }
  expect(csv[0]).toEqual([
    'Tally',
    'Status',
    'Counterparty',
    'Counterparty name',
    'Your role',
    'Direction',
    'Token',
    'Created',
    'Identity: email',
    'Identity: name'
  ])
  expect(csv.slice(1).map(exported)).toEqual(shown)
  const counterparties = runs.map((run) => run.result?.remotePeerId)
  expect(new Set(counterparties).size).toBe(1) // every dialer bootstrapped with this node

  const json = JSON.parse(await download(page, 'export-tallies-json')) as Array<Record<string, string>>
  const jsonKeys = [
    'tallyId',
    'status',
    'counterpartyPeerId',
    'counterpartyName',
    'role',
    'direction',
    'tokenLabel',
    'createdAt',
    'identity.email',
    'identity.name'
  ]
  for (const t of json) expect(Object.keys(t)).toEqual(jsonKeys)
  expect(json.map((t) => exported(jsonKeys.map((k) => t[k] ?? '')))).toEqual(shown)
  expect(csv.slice(1)).toEqual(json.map((t) => jsonKeys.map((k) => t[k] ?? '')))

  // A filter changes what is shown, and so what is exported.
  await page.getByTestId('tally-filter').selectOption('draft')
  await expect(page.getByTestId('tallies-empty')).toBeVisible()
  await expect(page.getByTestId('export-tallies-csv')).toBeDisabled()
  await page.getByTestId('tally-filter').selectOption('confirmed')
  await expect(page.getByTestId('tally-row')).toHaveCount(2)
  expect(parseCsv(await download(page, 'export-tallies-csv')).length).toBe(3)
  if (node != null) {
    const records = await exportRecords(node)
    expect(records).toHaveLength(3)
    expect(records[0]).toMatchObject({
      actor: 'browser',
      detail: { what: 'tallies', format: 'csv', rows: 2, 'filter.status': 'confirmed' }
    })
  }
})
