/**
 * A node whose customer display has served hundreds of customers: the console loads one page of tokens,
 * archived ones only when asked, and a display reopened on an archived code still finds it.
 */
import { copyFile } from 'node:fs/promises'
import { openStore } from '../../main/store/merchant-store.ts'
import { expect, startServe, test, type ServeNode } from './fixtures.ts'

const ARCHIVED = 540
const LIVE = 20

test('hundreds of archived tokens: one page at a time, loaded only when shown', async ({
  taleus
}, testInfo) => {
  test.skip(taleus.shell !== 'web', 'the seeded data folder needs the browser console’s own node')
  test.setTimeout(180_000)
  const { page, node } = taleus
  let restarted: ServeNode | undefined
  try {
    // the node is stopped while its folder is seeded, as a served year would leave it
    await node!.halt()
    const store = await openStore(node!.dataDir)
    const served: string[] = []
    for (let i = 0; i < ARCHIVED; i++) {
      const { view } = await store.createToken({ role: 'stock', label: `served ${i}`, uses: 1 })
      await store.revokeToken(view.tokenId)
      await store.archiveToken!(view.tokenId)
      served.push(view.tokenId)
    }
    const oldest = served[0]!
    for (let i = 0; i < LIVE; i++) await store.createToken({ role: 'stock', label: `till ${i}` })
    await store.close()
    restarted = await startServe({ bench: true, dataDir: node!.dataDir })
    await page.reload()

    await page.getByTestId('nav-tokens').click()
    await expect(page.getByTestId('token-row')).toHaveCount(LIVE)
    await expect(page.getByTestId('tokens-load-older')).toHaveCount(0)

    // the first page of all tokens: the 20 live ones and the newest 480 archived
    await page.getByTestId('token-show-archived').check()
    await expect(page.getByTestId('token-row')).toHaveCount(500)
    await expect(page.getByText(`Show archived (${500 - LIVE}+)`)).toBeVisible()
    await expect(page.getByTestId('token-count')).toContainText('older ones not loaded')
    await page.getByTestId('tokens-load-older').scrollIntoViewIfNeeded()
    const shot = testInfo.outputPath('tokens-load-older.png')
    await page.screenshot({ path: shot })
    if (process.env['TALEUS_SHOT_DIR'] !== undefined)
      await copyFile(shot, `${process.env['TALEUS_SHOT_DIR']}/tokens-load-older.png`)
    // a search asks the node: it reaches archived tokens the screen has not loaded ("served 7" is one,
    // "served 70" to "served 79" are loaded)
    await page.getByTestId('token-search').fill('served 7')
    await expect(page.getByTestId('token-row')).toHaveCount(11)
    await expect(page.locator(`[data-testid=token-row][data-token-id="${served[7]}"]`)).toBeVisible()
    await page.getByTestId('token-search').fill('')
    await expect(page.getByTestId('token-row')).toHaveCount(500)
    await page.getByTestId('tokens-load-older').click()
    await expect(page.getByTestId('token-row')).toHaveCount(ARCHIVED + LIVE)
    await expect(page.getByText(`Show archived (${ARCHIVED})`)).toBeVisible()
    await expect(page.getByTestId('tokens-load-older')).toHaveCount(0)

    await page.getByTestId('token-show-archived').uncheck()
    await expect(page.getByTestId('token-row')).toHaveCount(LIVE)

    // a display reopened at the address of a code archived long ago fetches that one token
    const secret = new URL(page.url()).hash.match(/secret=([^&]+)/)?.[1]
    const base = page.url().replace(/#.*$/, '')
    await page.goto(`${base}#/display/${oldest}${secret === undefined ? '' : `&secret=${secret}`}`)
    await expect(page.getByTestId('display-title')).toHaveText('served 0')
    await expect(page.getByTestId('display-used-up')).toContainText('This code is revoked')
  } finally {
    await restarted?.halt()
  }
})
