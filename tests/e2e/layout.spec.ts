/** Long labels, small windows and right-to-left marks do not break the console. */
import { cliDial, createTokenInUi, expect, test } from './fixtures.ts'

// One long word of wide letters (no space to wrap at), the form's maximum length.
const LONG = 'W'.repeat(80)

test('an 80-character label keeps the tokens table inside the window at 1366 px', async ({
  taleus: { page }
}) => {
  await page.setViewportSize({ width: 1366, height: 768 })
  await createTokenInUi(page, { label: LONG, uses: 'unlimited' })
  const table = page.getByTestId('tokens-table')
  await expect(table).toBeVisible()
  const fits = await page.evaluate(() => {
    const content = document.querySelector('.content') as HTMLElement
    const table = document.querySelector('[data-testid=tokens-table]') as HTMLElement
    return (
      content.scrollWidth <= content.clientWidth && table.getBoundingClientRect().right <= window.innerWidth
    )
  })
  expect(fits).toBe(true)
  // The revoke button of that row is on screen.
  const revoke = page.getByTestId('token-row').first().getByTestId('token-revoke')
  const box = await revoke.boundingBox()
  expect(box != null && box.x + box.width <= 1366).toBe(true)
})

test('at 800×600 the tokens table (with its QR open) and the sessions table fit the window', async ({
  taleus: { page }
}) => {
  await page.setViewportSize({ width: 800, height: 600 })
  await createTokenInUi(page, { label: LONG, uses: 'unlimited' })
  const link = await createTokenInUi(page, { label: 'Counter 1', uses: 'one' })
  expect((await cliDial(link)).code).toBe(0)
  await page.getByTestId('token-row').first().getByTestId('token-show').click()
  const noSideScroll = async (selector: string): Promise<boolean> =>
    page.evaluate((sel) => {
      const el = document.querySelector(sel) as HTMLElement | null
      return el != null && el.scrollWidth <= el.clientWidth + 1
    }, selector)
  await expect(page.getByTestId('tokens-table')).toBeVisible()
  expect(await noSideScroll('.table-wrap')).toBe(true)
  const revoke = await page.getByTestId('token-row').first().getByTestId('token-revoke').boundingBox()
  expect(revoke != null && revoke.x + revoke.width <= 800).toBe(true)
  await page.screenshot({ path: test.info().outputPath('tokens-800.png') })

  await page.getByTestId('nav-sessions').click()
  await expect(page.getByTestId('sessions-table')).toBeVisible()
  const head = await page.locator('.vt-head > span').last().boundingBox()
  // the Result column keeps room for a few words
  expect(head != null && head.width >= 100 && head.x + head.width <= 800).toBe(true)
})

test('at 900×600 the customer display shows its whole title and its Close button', async ({
  taleus: { page }
}) => {
  await page.setViewportSize({ width: 900, height: 600 })
  await createTokenInUi(page, { label: LONG, uses: 'unlimited' })
  await page.getByTestId('qr-fullscreen').click()
  for (const id of ['display-title', 'qr-display-close', 'qr-display-image']) {
    const box = await page.getByTestId(id).boundingBox()
    expect(box, id).not.toBeNull()
    expect(box!.y >= 0 && box!.y + box!.height <= 600 && box!.x >= 0 && box!.x + box!.width <= 900, id).toBe(
      true
    )
  }
})

test('a label with U+202E does not reverse the text after it', async ({ taleus: { page } }) => {
  await createTokenInUi(page, { label: 'evil\u202Egnp.exe', uses: 'unlimited' })
  const cell = page.getByTestId('token-row').first().getByTestId('token-label-cell')
  // The label sits in an isolating element, so whatever follows it in the row keeps its order.
  const isolated = await cell.evaluate((td) => {
    const el = td.querySelector('bdi') ?? td
    const bidi = getComputedStyle(el).unicodeBidi
    return el.tagName === 'BDI' || bidi === 'isolate' || bidi === 'plaintext'
  })
  expect(isolated).toBe(true)
  await expect(page.getByTestId('qr-panel').locator('bdi')).toHaveCount(1)
})
