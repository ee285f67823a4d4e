/**
 * Node screen, issue J: the store chosen in the console against a real PostgreSQL and a real `taleus
 * serve`. A wrong password is said in plain words; the right one is checked, saved (never shown back) and
 * applied when the node restarts. Needs TALEUS_TEST_PG (run.js starts a server as root, as `npm test` does).
 */
import { randomBytes } from 'node:crypto'
import { copyFile } from 'node:fs/promises'
import pg from 'pg'
import { expect, startServe, test } from './fixtures.ts'

const PG = process.env['TALEUS_TEST_PG']

test('the Node screen moves the node to PostgreSQL: checked by connecting, applied at restart', async ({
  taleus: { page, node }
}, testInfo) => {
  test.skip(node == null, 'the browser console only (the test restarts its taleus serve)')
  test.skip(PG === undefined, 'no PostgreSQL server: TALEUS_TEST_PG is not set')
  const server = new URL(PG!)
  const password = decodeURIComponent(server.password)
  const schema = `t_${randomBytes(6).toString('hex')}`
  server.password = ''
  server.searchParams.set('schema', schema)
  const url = server.toString()
  let restarted: Awaited<ReturnType<typeof startServe>> | undefined
  try {
    await page.getByTestId('nav-node').click()
    await expect(page.getByTestId('store-running')).toContainText("this computer's data folder")
    await expect(page.getByTestId('store-running')).toContainText('the default')

    await page.getByTestId('store-kind-postgres').check()
    await page.getByTestId('store-url').fill(url)
    await page.getByTestId('store-password').fill('not-the-password')
    await page.getByTestId('store-save').click()
    await expect(page.getByTestId('store-error')).toContainText('refused the password for user')
    await expect(page.getByTestId('store-restart')).toHaveCount(0)

    await page.getByTestId('store-password').fill(password)
    await page.getByTestId('store-save').click()
    await expect(page.getByTestId('store-saved')).toContainText('accepts our tables')
    await expect(page.getByTestId('store-restart')).toContainText('Applies at the next start')
    // the password is gone from the form and never comes back from the node
    await expect(page.getByTestId('store-password')).toHaveValue('')
    await expect(page.getByTestId('store-password')).toHaveAttribute('placeholder', /saved/)
    expect(await page.content()).not.toContain(`:${password}@`)
    const shot = testInfo.outputPath('store-settings.png')
    await page.getByTestId('store-settings').screenshot({ path: shot })
    if (process.env['TALEUS_SHOT_DIR'] !== undefined)
      await copyFile(shot, `${process.env['TALEUS_SHOT_DIR']}/store-settings.png`)

    // restart the node on its folder: it now runs on the server (same console address and secret)
    await node!.halt()
    restarted = await startServe({ bench: true, dataDir: node!.dataDir })
    await page.reload()
    await page.getByTestId('nav-node').click()
    await expect(page.getByTestId('store-running')).toContainText(url)
    await expect(page.getByTestId('store-running')).toContainText('chosen here')
    await expect(page.getByTestId('store-restart')).toHaveCount(0)
    const created = await restarted.call<{ tokenId: string }>('POST', '/api/tokens', {
      role: 'stock',
      uses: 1
    })
    const db = new pg.Client({ connectionString: PG, options: `-c search_path=${schema}` })
    await db.connect()
    try {
      expect((await db.query('SELECT 1 FROM tokens WHERE token_id = $1', [created.tokenId])).rowCount).toBe(1)
    } finally {
      await db.end()
    }
  } finally {
    await restarted?.halt()
    const db = new pg.Client({ connectionString: PG })
    await db.connect().catch(() => {})
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {})
    await db.end().catch(() => {})
  }
})
