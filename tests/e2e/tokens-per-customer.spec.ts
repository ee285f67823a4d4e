/** Tokens screen, a code for each customer: the QR panel follows the code the next customer can use. */
import { readFile } from 'node:fs/promises'
import type { Page } from '@playwright/test'
import { cliDial, decodeQrPng, expect, test } from './fixtures.ts'

/** The link in the panel's QR image, its Save PNG file and its link field agree: that link. */
async function panelLink(page: Page): Promise<string> {
  const link = await page.getByTestId('token-link').inputValue()
  const qr = page.getByTestId('token-qr')
  // compared as booleans: a failure must not print the link (a bearer secret)
  await expect.poll(async () => decodeQrPng(await qr.screenshot()) === link).toBe(true)
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('save-qr-png').click()
  ])
  expect(decodeQrPng(await readFile(await download.path())) === link).toBe(true)
  return link
}

test('after a customer used the code, the panel shows, copies and saves the next customer’s code', async ({
  taleus: { page }
}) => {
  await page.getByTestId('token-label').fill('Counter')
  await page.getByTestId('token-uses-per-customer').check()
  await page.getByTestId('token-requirements').fill('name')
  await page.getByTestId('token-create').click()
  await expect(page.getByTestId('token-link')).toHaveValue(/^taleus:/)
  const panel = page.getByTestId('qr-panel')
  const firstId = await panel.getAttribute('data-token-id')
  const first = await panelLink(page)

  expect((await cliDial(first, { name: 'Ann' })).code).toBe(0)
  // the panel moves on to the node's next code; the used one is not handed out any more
  await expect(panel).not.toHaveAttribute('data-token-id', firstId ?? '-')
  await expect(page.getByTestId('qr-inactive')).toHaveCount(0)
  const next = await panelLink(page)
  expect(next === first).toBe(false)
  await expect(page.getByTestId('qr-per-customer')).toContainText('for the next customer (1 served)')

  // and that code is the one the next customer can use
  expect((await cliDial(next, { name: 'Bo' })).code).toBe(0)
  await expect(page.getByTestId('qr-per-customer')).toContainText('2 served')
  expect((await page.getByTestId('token-link').inputValue()) === next).toBe(false)
})
