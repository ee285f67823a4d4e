/** A page per tally, filters on tallies and tokens, export of the filtered rows, archived tokens. */
import { readFile } from 'node:fs/promises'
import type { OperationView } from '../../preload/contract.ts'
import { cliDial, createTokenInUi, expect, test } from './fixtures.ts'

test('a tally has its own page; search and dates filter; the export holds the filtered rows', async ({
  taleus: { page }
}) => {
  const link = await createTokenInUi(page, {
    label: 'Bakery',
    uses: 'unlimited',
    requirements: 'name, email'
  })
  for (const [name, email] of [
    ['Ann Lee', 'ann@shop.example'],
    ['Bo Chan', 'bo@shop.example']
  ] as const) {
    expect((await cliDial(link, { name, email })).code).toBe(0)
  }
  await page.getByTestId('nav-tallies').click()
  await expect(page.getByTestId('tally-row')).toHaveCount(2)
  await page.getByTestId('tally-search').fill('ann@')
  await expect(page.getByTestId('tally-row')).toHaveCount(1)
  const download = page.waitForEvent('download')
  await page.getByTestId('export-tallies-csv').click()
  const csv = await readFile(await (await download).path(), 'utf8')
  expect(csv).toContain('Ann Lee')
  expect(csv).not.toContain('Bo Chan')

  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)
  await page.getByTestId('tally-from').fill(tomorrow)
  await expect(page.getByTestId('tally-row')).toHaveCount(0)
  await page.getByTestId('tally-from').fill('')
  await page.getByTestId('tally-search').fill('')
  await expect(page.getByTestId('tally-row')).toHaveCount(2)

  await page.getByTestId('tally-row').filter({ hasText: 'Ann Lee' }).getByTestId('tally-open').click()
  const detail = page.getByTestId('tally-page')
  await expect(detail.getByTestId('tally-identity')).toContainText('ann@shop.example')
  await expect(detail.getByTestId('tally-token')).toContainText('Bakery')
  await expect(detail.getByTestId('tally-role-sentence')).toContainText('You are the stock')
  await expect(detail.getByTestId('timeline-event').first()).toBeVisible()
  await expect(detail.getByTestId('tally-status-history')).toContainText('confirmed')
  await expect(detail.getByTestId('tally-told')).toContainText('tally is open')
  expect(page.url()).toMatch(/#\/tally\//)
  await page.getByTestId('tally-back').click()
  await expect(page.getByTestId('tally-row')).toHaveCount(2)
})

test('tokens: search, export and archiving of revoked and used-up tokens', async ({
  taleus: { page, node }
}) => {
  const once = await createTokenInUi(page, { label: 'Used once', uses: 'one' })
  await createTokenInUi(page, { label: 'Revoke me', uses: 'unlimited' })
  await createTokenInUi(page, { label: 'Still good', uses: 'unlimited' })
  expect((await cliDial(once)).code).toBe(0)
  const revoke = page.getByTestId('token-row').filter({ hasText: 'Revoke me' })
  await revoke.getByTestId('token-revoke').click()
  await page.getByTestId('revoke-confirm-ok').click()
  await expect(revoke).toHaveAttribute('data-status', 'revoked')
  await expect(page.getByTestId('token-row').filter({ hasText: 'Used once' })).toHaveAttribute(
    'data-status',
    'used-up'
  )

  await page.getByTestId('token-search').fill('good')
  await expect(page.getByTestId('token-row')).toHaveCount(1)
  const download = page.waitForEvent('download')
  await page.getByTestId('export-tokens-csv').click()
  const csv = await readFile(await (await download).path(), 'utf8')
  expect(csv).toContain('Still good')
  expect(csv).not.toContain('Revoke me')
  expect(csv).not.toContain('taleus:')
  expect(csv.split('\r\n')[0]).toBe(
    '"Token","Label","Your role","Uses","Used","Status","Archived","Approval","Identity asked","Expires","Created"'
  )
  expect(csv.split('\r\n').filter((line) => line !== '')).toHaveLength(2)
  if (node != null) {
    const ops = await node.call<OperationView[]>('GET', '/api/audit/operations')
    expect(ops.find((op) => op.op === 'export')).toMatchObject({
      actor: 'browser',
      detail: { what: 'tokens', rows: 1, 'filter.q': 'good' }
    })
  }
  await page.getByTestId('token-search').fill('')

  await page.getByTestId('archive-tokens').click()
  await page.getByTestId('archive-confirm-ok').click()
  await expect(page.getByTestId('token-row')).toHaveCount(1)
  await page.getByTestId('token-show-archived').check()
  await expect(page.getByTestId('token-row')).toHaveCount(3)
  // Archived stays archived after a reload.
  await page.reload()
  await expect(page.getByTestId('token-row')).toHaveCount(1)
})
