/**
 * Screenshots of every screen for docs/screenshots (project `screenshots`: `node tests/e2e/run.js
 * --screenshots`), taken on a real node with real dialers, 1280×800, light theme plus dark ones.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Page } from '@playwright/test'
import { ROOT, cliDial, createTokenInUi, expect, startServe, test, type ServeNode } from './fixtures.ts'

const OUT = join(ROOT, 'docs', 'screenshots')

let other: ServeNode | undefined
test.afterEach(async () => {
  await other?.stop()
  other = undefined
})

async function shot(page: Page, name: string): Promise<void> {
  // No caret, focus ring or hover in the pictures, and each screen from its top.
  await page.evaluate(() => {
    ;(document.activeElement as HTMLElement | null)?.blur()
    document.querySelector('.content')?.scrollTo(0, 0)
    window.scrollTo(0, 0)
  })
  await page.mouse.move(2, 798)
  await page.screenshot({ path: join(OUT, `${name}.png`), animations: 'disabled' })
}

test('screenshots of every screen', async ({ taleus: { page } }) => {
  test.setTimeout(180_000)
  await mkdir(OUT, { recursive: true })

  const counter = await createTokenInUi(page, {
    label: 'Counter 1',
    uses: 'unlimited',
    requirements: 'email'
  })
  await createTokenInUi(page, {
    label: 'Loyalty desk',
    uses: 20,
    requirements: 'email, name',
    approval: 'operator'
  })
  const once = await createTokenInUi(page, { label: 'Table 4', uses: 'one' })
  const runs = await Promise.all([
    cliDial(counter, { email: 'ann@shop.example' }),
    cliDial(counter, { email: 'bo@shop.example' }),
    cliDial(counter, { email: 'cy@shop.example' }),
    cliDial(once)
  ])
  for (const run of runs) expect(run.code).toBe(0)
  expect((await cliDial(once)).reason).toBe('token-used')

  // Tokens: the list with a QR code shown.
  await page.getByTestId('token-row').filter({ hasText: 'Counter 1' }).getByTestId('token-show').click()
  await expect(page.getByTestId('token-qr')).toBeVisible()
  await shot(page, 'tokens')

  // Approvals: a customer waiting for the operator.
  await page.getByTestId('token-row').filter({ hasText: 'Loyalty desk' }).getByTestId('token-show').click()
  const loyalty = await page.getByTestId('token-link').inputValue()
  const waiting = cliDial(loyalty, { email: 'dee@shop.example', name: 'Dee Moss' })
  await expect(page.getByTestId('approvals-badge')).toHaveText('1')
  await page.getByTestId('nav-approvals').click()
  await expect(page.getByTestId('approval-row')).toHaveCount(1)
  await shot(page, 'approvals')
  await page.getByTestId('approve-button').click()
  expect((await waiting).code).toBe(0)

  // Dial: this node dials another node's link.
  other = await startServe()
  const token = await other.call<{ link: string }>('POST', '/api/tokens', {
    role: 'foil',
    label: 'Market stall',
    identityRequirements: ['name']
  })
  await page.getByTestId('nav-dial').click()
  await page.getByTestId('dial-input').fill(token.link)
  await page.getByTestId('identity-name').fill('Corner Shop')
  await page.getByTestId('dial-submit').click()
  await expect(page.getByTestId('dial-result')).toHaveAttribute('data-ok', 'true')
  await shot(page, 'dial')

  // Sessions: inbound and outbound rows, one open on its timeline.
  await page.getByTestId('nav-sessions').click()
  const done = page.locator('[data-testid=session-row][data-state=L_DONE]')
  await expect(done).toHaveCount(5)
  await done.first().click()
  await expect(page.getByTestId('timeline-event').first()).toBeVisible()
  await shot(page, 'sessions')

  await page.getByTestId('nav-tallies').click()
  await expect(page.getByTestId('tally-row')).toHaveCount(6)
  await shot(page, 'tallies')

  await page.getByTestId('nav-node').click()
  await expect(page.getByTestId('audit-row').first()).toBeVisible()
  await expect(page.getByTestId('peer-row').first()).toBeVisible()
  await shot(page, 'node')

  await page.emulateMedia({ colorScheme: 'dark' })
  await page.getByTestId('nav-tokens').click()
  await page.getByTestId('token-row').filter({ hasText: 'Counter 1' }).getByTestId('token-show').click()
  await expect(page.getByTestId('token-qr')).toBeVisible()
  await shot(page, 'tokens-dark')
  await page.getByTestId('nav-sessions').click()
  await done.first().click()
  await expect(page.getByTestId('timeline-event').first()).toBeVisible()
  await shot(page, 'sessions-dark')
})
