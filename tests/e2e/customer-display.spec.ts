/** The customer display follows the sale: who scanned, progress, welcome, then the next code. */
import { cliDial, createTokenInUi, decodeQrPng, expect, test } from './fixtures.ts'

test('a used-up code is not shown again; a fresh one comes up by itself for the next customer', async ({
  taleus: { page }
}) => {
  const link = await createTokenInUi(page, { label: 'Till 2', uses: 'one', requirements: 'name' })
  await page.getByTestId('qr-fullscreen').click()
  const display = page.getByTestId('qr-display')
  await expect(display).toBeVisible()
  // A dialog: Tab stays inside it.
  for (let i = 0; i < 4; i++) await page.keyboard.press('Tab')
  expect(await page.evaluate(() => document.activeElement?.closest('[data-testid=qr-display]') != null)).toBe(
    true
  )
  await page.getByTestId('display-auto').check()

  const first = await cliDial(link, { name: 'Ann' })
  expect(first.code).toBe(0)
  await expect(page.getByTestId('display-status')).toContainText('Welcome, Ann')
  // Then a new single-use code, different from the used one, that the next customer can use.
  const image = page.getByTestId('qr-display-image')
  let next: string | undefined
  await expect
    .poll(async () => {
      next = decodeQrPng(await image.screenshot())
      return next != null && next !== link
    })
    .toBe(true)
  // the next customer does not read the last one's name under their code
  await expect(page.getByTestId('display-status')).not.toContainText('Ann')
  const second = await cliDial(next!, { name: 'Bo' })
  expect(second.code).toBe(0)
  await expect(page.getByTestId('display-status')).toContainText('Welcome, Bo')
  await page.keyboard.press('Escape')
  await expect(display).toHaveCount(0)
})

test('without the automatic mode a used-up code says so instead of showing the QR again', async ({
  taleus: { page }
}) => {
  const link = await createTokenInUi(page, { label: 'Till 3', uses: 'one' })
  await page.getByTestId('qr-fullscreen').click()
  expect((await cliDial(link)).code).toBe(0)
  await expect(page.getByTestId('display-status')).toContainText('your tally is open')
  await expect(page.getByTestId('display-used-up')).toBeVisible()
  await expect(page.getByTestId('qr-display-image')).toHaveCount(0)
})

test('the display has its own address for a second screen', async ({ taleus: { page } }) => {
  const link = await createTokenInUi(page, { label: 'Second screen', uses: 'unlimited' })
  const tokenId = await page.getByTestId('qr-panel').getAttribute('data-token-id')
  const href = await page.getByTestId('display-open-window').getAttribute('href')
  expect(href).toBe(`#/display/${tokenId}`)
  const second = await page.context().newPage()
  // Same tab storage as a window opened from the console.
  const secret = await page.evaluate(() => sessionStorage.getItem('taleus.secret'))
  await second.goto(page.url().replace(/#.*$/, '') + `#/display/${tokenId}&secret=${secret}`)
  const image = second.getByTestId('qr-display-image')
  await expect.poll(async () => decodeQrPng(await image.screenshot()) === link).toBe(true)
  expect((await cliDial(link)).code).toBe(0)
  await expect(second.getByTestId('display-status')).toContainText('your tally is open')
  // it faces customers: nothing on it leads into the signed-in console
  await expect(second.getByTestId('qr-display-image')).toBeVisible()
  await expect(second.getByTestId('qr-display-close')).toHaveCount(0)
  await expect(second.getByRole('button', { name: /console/i })).toHaveCount(0)
})

test('a per-customer token: the node mints the next code and the display shows it by itself', async ({
  taleus: { page }
}) => {
  await page.getByTestId('token-label').fill('Counter display')
  await page.getByTestId('token-uses-per-customer').check()
  await page.getByTestId('token-requirements').fill('name')
  await page.getByTestId('token-create').click()
  await expect(page.getByTestId('token-link')).toHaveValue(/^taleus:/)
  const link = await page.getByTestId('token-link').inputValue()
  await page.getByTestId('qr-fullscreen').click()
  expect((await cliDial(link, { name: 'Ann' })).code).toBe(0)
  await expect(page.getByTestId('display-status')).toContainText('Welcome, Ann')
  const image = page.getByTestId('qr-display-image')
  let next: string | undefined
  await expect
    .poll(async () => {
      next = decodeQrPng(await image.screenshot())
      return next != null && next !== link
    })
    .toBe(true)
  expect((await cliDial(next!, { name: 'Bo' })).code).toBe(0)
  await expect(page.getByTestId('display-status')).toContainText('Welcome, Bo')
})
