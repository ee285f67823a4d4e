/**
 * Screenshots of every screen for docs/screenshots (project `screenshots`: `node tests/e2e/run.js
 * --screenshots`), taken on a real node with real dialers at 1366×768 and 900×600, light and dark.
 * Names: `<screen>.png` (1366×768 light), `<screen>-dark.png`, `<screen>-900.png`, `<screen>-900-dark.png`.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Locator, Page } from '@playwright/test'
import type { TallyDocumentView, TallyView, TermsProposal } from '../../preload/contract.ts'
import { ROOT, cliDial, createTokenInUi, expect, startServe, test, type ServeNode } from './fixtures.ts'

const OUT = join(ROOT, 'docs', 'screenshots')
const SIZES = [
  { width: 1366, height: 768, suffix: '' },
  { width: 900, height: 600, suffix: '-900' }
] as const
const THEMES = [
  { scheme: 'light', suffix: '' },
  { scheme: 'dark', suffix: '-dark' }
] as const

let other: ServeNode | undefined
test.afterEach(async () => {
  await other?.stop()
  other = undefined
})

async function shot(page: Page, name: string, show?: Locator): Promise<void> {
  // No caret, focus ring or hover in the pictures, and each screen from its top.
  await page.evaluate(() => {
    ;(document.activeElement as HTMLElement | null)?.blur()
    document.querySelector('.content')?.scrollTo(0, 0)
    window.scrollTo(0, 0)
  })
  await show?.scrollIntoViewIfNeeded()
  const size = page.viewportSize()
  await page.mouse.move(2, (size?.height ?? 600) - 2)
  await page.screenshot({ path: join(OUT, `${name}.png`), animations: 'disabled' })
}

test('screenshots of every screen', async ({ taleus: { page, node } }) => {
  test.setTimeout(600_000)
  await mkdir(OUT, { recursive: true })

  const counter = await createTokenInUi(page, {
    label: 'Counter 1',
    uses: 'unlimited',
    requirements: 'email, name'
  })
  // Made through the API to give it a long approval window: one customer waits through every shot.
  if (node == null) throw new Error('screenshots are taken in the browser console')
  const loyalty = await node.call<{ link: string }>('POST', '/api/tokens', {
    role: 'stock',
    label: 'Loyalty desk',
    uses: 20,
    identityRequirements: ['email', 'name'],
    approval: 'operator',
    approvalTimeoutMs: 1_800_000
  })
  const once = await createTokenInUi(page, { label: 'Table 4', uses: 'one' })
  const runs = await Promise.all([
    cliDial(counter, { email: 'ann@shop.example', name: 'Ann Lee' }),
    cliDial(counter, { email: 'bo@shop.example', name: 'Bo Chan' }),
    cliDial(counter, { email: 'cy@shop.example', name: 'Cy Diaz' }),
    cliDial(once)
  ])
  for (const run of runs) expect(run.code).toBe(0)
  expect((await cliDial(once)).reason).toBe('token-used')

  const waiting = cliDial(loyalty.link, { email: 'dee@shop.example', name: 'Dee Moss' })
  await expect(page.getByTestId('approvals-badge')).toHaveText('1')

  // This node dials another node's link.
  other = await startServe()
  const token = await other.call<{ link: string }>('POST', '/api/tokens', {
    role: 'foil',
    label: 'Market stall',
    identityRequirements: ['name'],
    terms: { stockCreditLimit: 200, foilCreditLimit: 1000, unit: 'CHIP', note: 'Settle every month' }
  })
  await page.getByTestId('nav-dial').click()
  await page.getByTestId('dial-input').fill(token.link)
  await page.getByTestId('identity-name').fill('Corner Shop')
  await page.getByTestId('dial-submit').click()
  await expect(page.getByTestId('dial-result')).toHaveAttribute('data-ok', 'true')
  // Its tally's shared document: one proposal each way, ours accepted, theirs open.
  const stall = (await node.call<TallyView[]>('GET', '/api/tallies')).find((t) => t.direction === 'outbound')
  if (stall == null) throw new Error('the dialled tally is missing')
  const ours = await node.call<TermsProposal>('POST', '/api/tallies/propose', {
    tallyId: stall.tallyId,
    terms: { stockCreditLimit: 300 }
  })
  await expect
    .poll(async () => {
      try {
        return (
          await other?.call<TermsProposal>('POST', '/api/tallies/accept', {
            tallyId: stall.tallyId,
            proposalId: ours.proposalId
          })
        )?.status
      } catch {
        return undefined
      }
    })
    .toBe('awaiting-confirmation')
  // our node confirms the acceptance of our proposal as soon as it holds it: then it counts
  await expect
    .poll(async () => {
      const view = await node.call<TallyDocumentView>(
        'GET',
        `/api/tallies/document?tallyId=${encodeURIComponent(stall.tallyId)}`
      )
      return view.document.proposals.find((p) => p.proposalId === ours.proposalId)?.status
    })
    .toBe('accepted')
  await other.call('POST', '/api/tallies/propose', {
    tallyId: stall.tallyId,
    terms: { foilCreditLimit: 1500, note: 'Settle every Friday' }
  })

  for (const theme of THEMES) {
    await page.emulateMedia({ colorScheme: theme.scheme })
    for (const size of SIZES) {
      await page.setViewportSize({ width: size.width, height: size.height })
      const suffix = `${size.suffix}${theme.suffix}`

      await page.getByTestId('nav-tokens').click()
      await page.getByTestId('token-row').filter({ hasText: 'Counter 1' }).getByTestId('token-show').click()
      await expect(page.getByTestId('token-qr')).toBeVisible()
      await shot(page, `tokens${suffix}`)

      await page.getByTestId('qr-fullscreen').click()
      await expect(page.getByTestId('qr-display-image')).toBeVisible()
      await shot(page, `display${suffix}`)
      await page.keyboard.press('Escape')
      await expect(page.getByTestId('qr-display')).toHaveCount(0)

      await page.getByTestId('nav-approvals').click()
      await expect(page.getByTestId('approval-row')).toHaveCount(1)
      await shot(page, `approvals${suffix}`)

      await page.getByTestId('nav-dial').click()
      await expect(page.getByTestId('dial-result')).toBeVisible()
      await shot(page, `dial${suffix}`)

      await page.getByTestId('nav-sessions').click()
      const done = page.locator('[data-testid=session-row][data-state=L_DONE]')
      await expect(done).toHaveCount(4)
      await done.first().click()
      await expect(page.getByTestId('timeline-event').first()).toBeVisible()
      await shot(page, `sessions${suffix}`)

      await page.getByTestId('nav-tallies').click()
      await expect(page.getByTestId('tally-row')).toHaveCount(5)
      await shot(page, `tallies${suffix}`)
      await page.getByTestId('tally-row').filter({ hasText: 'Ann Lee' }).getByTestId('tally-open').click()
      await expect(page.getByTestId('tally-page').getByTestId('timeline-event').first()).toBeVisible()
      await shot(page, `tally${suffix}`)

      await page.evaluate((id) => (location.hash = `#/tally/${id}`), stall.tallyId)
      const doc = page.getByTestId('tally-document')
      await expect(doc.getByTestId('proposal')).toHaveCount(2)
      await expect(doc.getByTestId('doc-sync')).toHaveAttribute('data-sync', 'synced')
      // the document from its top: beside the page's facts at 1366 px, under them at 900 px
      await shot(page, `tally-document${suffix}`, doc)

      await page.getByTestId('nav-node').click()
      await expect(page.getByTestId('audit-row').first()).toBeVisible()
      await expect(page.getByTestId('peer-row').first()).toBeVisible()
      await shot(page, `node${suffix}`)

      // The new-token form refusing empty fields.
      await page.getByTestId('nav-tokens').click()
      await page.getByTestId('token-uses-n').check()
      await page.getByTestId('token-uses-count').fill('')
      await page.getByTestId('token-approval-operator').check()
      await page.getByTestId('token-approval-timeout').fill('')
      await page.getByTestId('token-create').click()
      await expect(page.getByTestId('error-approvalSeconds')).toBeVisible()
      await shot(page, `token-form-errors${suffix}`)
      // Standing terms that are not amounts
      await page.getByTestId('token-terms-toggle').click()
      await page.getByTestId('token-terms-you-lend').fill('12,5')
      await page.getByTestId('token-terms-unit').fill('CHIP')
      await page.getByTestId('token-create').click()
      await expect(page.getByTestId('token-terms-error-youLend')).toBeVisible()
      await shot(page, `token-form-terms${suffix}`, page.getByTestId('token-create'))
      await page.getByTestId('token-terms-you-lend').fill('')
      await page.getByTestId('token-terms-unit').fill('')
      await page.getByTestId('token-terms-toggle').click()
      await page.getByTestId('token-uses-count').fill('10')
      await page.getByTestId('token-uses-one').check()
      await page.getByTestId('token-approval-timeout').fill('120')
      await page.getByTestId('token-approval-auto').check()

      // A second tab without the key: the signed-out page.
      {
        const signedOut = await page.context().newPage()
        await signedOut.emulateMedia({ colorScheme: theme.scheme })
        await signedOut.setViewportSize({ width: size.width, height: size.height })
        await signedOut.goto(node.api + '/')
        await expect(signedOut.getByTestId('signed-out')).toBeVisible()
        await shot(signedOut, `signed-out${suffix}`)
        await signedOut.close()
      }
    }
  }

  await page.getByTestId('nav-approvals').click()
  await page.getByTestId('approve-button').click()
  expect((await waiting).code).toBe(0)
})
