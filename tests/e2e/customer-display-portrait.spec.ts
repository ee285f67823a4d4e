/** The customer display on a portrait screen (a phone or a tablet on a stand): the code stays square. */
import { createTokenInUi, decodeQrPng, expect, test } from './fixtures.ts'

test('on a 390×844 phone and an 800×1280 tablet the code is square and as wide as the screen allows', async ({
  taleus: { page }
}) => {
  const link = await createTokenInUi(page, { label: 'Phone stand', uses: 'unlimited' })
  const tokenId = await page.getByTestId('qr-panel').getAttribute('data-token-id')
  const secret = await page.evaluate(() => sessionStorage.getItem('taleus.secret'))
  const phone = await page.context().newPage()
  await phone.setViewportSize({ width: 390, height: 844 })
  await phone.goto(page.url().replace(/#.*$/, '') + `#/display/${tokenId}&secret=${secret}`)
  const image = phone.getByTestId('qr-display-image')
  await expect.poll(async () => decodeQrPng(await image.screenshot()) === link).toBe(true)

  for (const size of [
    { width: 390, height: 844 },
    { width: 800, height: 1280 },
    { width: 1280, height: 800 }
  ]) {
    await phone.setViewportSize(size)
    await expect
      .poll(async () => {
        const box = await image.boundingBox()
        return box != null && Math.abs(box.width - box.height) <= 1
      })
      .toBe(true)
    const box = await image.boundingBox()
    // as large as fits: it fills the room between title and status on its shorter side
    const room = await phone
      .locator('.display-main')
      .evaluate((el) => Math.min(el.clientWidth, el.clientHeight))
    expect(box?.width ?? 0).toBeGreaterThanOrEqual(room - 1)
    expect((box?.x ?? -1) >= 0 && (box?.x ?? 0) + (box?.width ?? 0) <= size.width).toBe(true)
    await phone.screenshot({ path: test.info().outputPath(`display-${size.width}x${size.height}.png`) })
  }
})
