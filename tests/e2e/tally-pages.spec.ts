/**
 * A node with more tallies than one page: the Tallies screen loads older pages when asked, and a search
 * finds a tally the screen never loaded (the node searches every tally, as an export does).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
// @ts-expect-error the bench's JavaScript helper has no type declarations
import { prefillStore } from '../../bench/lib/prefill.js'
import { expect, startServe, test, type ServeNode } from './fixtures.ts'

const TALLIES = 600

test('more tallies than a page: load older, and a search reaches the ones not loaded', async ({ taleus }) => {
  test.skip(taleus.shell !== 'web', 'the seeded data folder needs the browser console’s own node')
  test.setTimeout(120_000)
  const { page, node } = taleus
  let restarted: ServeNode | undefined
  try {
    await node!.halt()
    // months of customers, written in the store's own format (bench/lib/prefill.js)
    await (prefillStore as (dir: string, n: { tallies: number; events: number }) => Promise<void>)(
      node!.dataDir,
      { tallies: TALLIES, events: 0 }
    )
    const firstLine = (await readFile(join(node!.dataDir, 'tallies.jsonl'), 'utf8')).split('\n')[0]!
    const oldest = (JSON.parse(firstLine) as { tallyId: string }).tallyId
    restarted = await startServe({ bench: true, dataDir: node!.dataDir })
    await page.reload()

    await page.getByTestId('nav-tallies').click()
    await expect(page.getByTestId('tally-row')).toHaveCount(500)
    await expect(page.getByTestId('tally-count')).toHaveText('500 shown · older ones not loaded')
    await page.getByTestId('tallies-load-older').click()
    await expect(page.getByTestId('tally-row')).toHaveCount(TALLIES)
    await expect(page.getByTestId('tallies-load-older')).toHaveCount(0)

    // a fresh console holds the newest page only; the oldest tally is found by asking the node
    await page.reload()
    await page.getByTestId('nav-tallies').click()
    await expect(page.getByTestId('tally-row')).toHaveCount(500)
    await expect(page.locator(`[data-testid=tally-row][data-tally-id="${oldest}"]`)).toHaveCount(0)
    await page.getByTestId('tally-search').fill(oldest)
    await expect(page.getByTestId('tally-row')).toHaveCount(1)
    await expect(page.locator(`[data-testid=tally-row][data-tally-id="${oldest}"]`)).toBeVisible()
    await expect(page.getByTestId('tally-count')).toHaveText('1 shown')

    // every prefilled tally came from one token: a search for its label is a full page, then the rest
    await page.getByTestId('tally-search').fill('till 1')
    await expect(page.getByTestId('tally-count')).toHaveText('500 shown · older ones not loaded')
    await page.getByTestId('tallies-load-older').click()
    await expect(page.getByTestId('tally-row')).toHaveCount(TALLIES)

    await page.getByTestId('tally-filter').selectOption('abandoned')
    await expect(page.getByTestId('tallies-empty')).toContainText('No tallies match')
  } finally {
    await restarted?.halt()
  }
})
