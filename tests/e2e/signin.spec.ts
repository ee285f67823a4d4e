/** Signing in: a clear signed-out page, the address pasted or put in the URL, and a node that goes away. */
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  VIEWPORT,
  createTokenInUi,
  expect,
  runCli,
  startServe,
  test
} from './fixtures.ts'

test('signed out: paste the console address, or change the URL of the open tab', async ({ playwright }) => {
  test.skip(test.info().project.name === 'electron', 'the browser console only')
  const node = await startServe()
  const browser = await playwright.chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  try {
    const page = await (await browser.newContext({ viewport: VIEWPORT })).newPage()
    await page.goto(node.api + '/')
    await expect(page.getByTestId('signed-out')).toBeVisible()
    await expect(page.getByTestId('signed-out')).not.toContainText('`')

    // A wrong secret is refused in words, on the same page.
    await page.getByTestId('signin-input').fill('not-the-secret')
    await page.getByTestId('signin-submit').click()
    await expect(page.getByTestId('signin-error')).toContainText('not accepted')

    await page.getByTestId('signin-input').fill(node.consoleUrl)
    await page.getByTestId('signin-submit').click()
    await expect(page.getByTestId('stream-status')).toHaveAttribute('data-status', 'open')
    // The secret does not stay in the address bar.
    expect(page.url()).not.toContain('secret=')

    // A stale key (a node whose secret changed): signed out again, not empty screens.
    await page.evaluate(() => sessionStorage.setItem('taleus.secret', 'stale'))
    await page.reload()
    await expect(page.getByTestId('signed-out')).toBeVisible()
    // Pasting the address into the open tab's URL signs in without a reload.
    const secret = node.consoleUrl.slice(node.consoleUrl.indexOf('#secret=') + 8)
    await page.evaluate((s) => (location.hash = `#secret=${s}`), secret)
    await expect(page.getByTestId('stream-status')).toHaveAttribute('data-status', 'open')
    await expect(page.getByTestId('screen-tokens')).toBeVisible()
  } finally {
    await browser.close()
    await node.stop()
  }
})

test('the secret is rotated: the open tab stops getting data and shows the sign-in page', async ({
  playwright
}) => {
  test.skip(test.info().project.name === 'electron', 'the browser console only')
  const node = await startServe()
  const browser = await playwright.chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  try {
    const page = await (await browser.newContext({ viewport: VIEWPORT })).newPage()
    await page.goto(node.consoleUrl)
    await expect(page.getByTestId('stream-status')).toHaveAttribute('data-status', 'open')
    const rotate = await runCli(['console', '--rotate', '--data-dir', node.dataDir])
    expect(rotate.code).toBe(0)
    // without a reload or a click: the live stream ends and its reconnect is refused
    await expect(page.getByTestId('signed-out')).toBeVisible({ timeout: 15_000 })
    await expect(page.getByTestId('signed-out')).toContainText('no longer accepts the key')
  } finally {
    await browser.close()
    await node.stop()
  }
})

test('the node goes away: the open tab says so and keeps what it showed', async ({
  taleus: { page, node }
}) => {
  test.skip(node == null, 'the browser console only')
  await createTokenInUi(page, { label: 'Kept on screen' })
  await node!.halt()
  await expect(page.getByTestId('node-away')).toBeVisible()
  await expect(page.getByTestId('node-away')).not.toContainText('`')
  await expect(page.getByTestId('token-row').filter({ hasText: 'Kept on screen' })).toBeVisible()
  await expect(page.getByTestId('tokens-empty')).toHaveCount(0)
  // Restarted on the same folder it comes back (the fixture's stop() removes the folder afterwards).
  const again = await startServe({ dataDir: node!.dataDir })
  try {
    if (again.api === node!.api) {
      await expect(page.getByTestId('stream-status')).toHaveAttribute('data-status', 'open', {
        timeout: 30_000
      })
      await expect(page.getByTestId('node-away')).toHaveCount(0)
    } else {
      // Another address: the tab cannot follow; it stays honest about it.
      await expect(page.getByTestId('node-away')).toBeVisible()
    }
  } finally {
    await again.halt()
  }
})
