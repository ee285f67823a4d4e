/**
 * Approvals screen, deciding in a hurry: a double-click decides only the card it aimed at (the next card
 * slides under the resting pointer), every decision is reported, and keyboard focus follows the cards.
 */
import type { Page } from '@playwright/test'
import { cliDial, createTokenInUi, expect, test } from './fixtures.ts'

/** Two customers waiting on one operator-approved token, the Approvals screen open on them. */
async function twoWaiting(page: Page) {
  const link = await createTokenInUi(page, {
    label: 'Door',
    uses: 5,
    requirements: 'name',
    approval: 'operator'
  })
  // one after the other: Ann's deadline comes first, so her card is on top
  const ann = cliDial(link, { name: 'Ann' })
  await expect(page.getByTestId('approvals-badge')).toHaveText('1')
  const bo = cliDial(link, { name: 'Bo' })
  await expect(page.getByTestId('approvals-badge')).toHaveText('2')
  await page.getByTestId('nav-approvals').click()
  const rows = page.getByTestId('approval-row')
  await expect(rows).toHaveCount(2)
  await expect(rows.first().getByTestId('approval-who')).toHaveText('Ann')
  await expect(rows.nth(1).getByTestId('approval-who')).toHaveText('Bo')
  return { ann, bo, rows }
}

test('a double-click on the first card’s Reject decides only that customer; the next one stays waiting', async ({
  taleus: { page }
}) => {
  const { ann, bo, rows } = await twoWaiting(page)
  const boId = await rows.nth(1).getAttribute('data-session-id')
  const box = await rows.first().getByTestId('reject-button').boundingBox()
  if (box == null) throw new Error('the Reject button is not on screen')
  const x = box.x + box.width / 2
  const y = box.y + box.height / 2
  await page.mouse.move(x, y)
  await page.mouse.down()
  await page.mouse.up()
  // The second click of the double-click comes right after Ann's card went: Bo's Reject is under it now.
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid=approval-row]').length === 1,
    undefined,
    { polling: 'raf' }
  )
  await page.mouse.down({ clickCount: 2 })
  await page.mouse.up({ clickCount: 2 })
  expect(await page.evaluate(([px, py]) => document.elementFromPoint(px!, py!)?.textContent, [x, y])).toBe(
    'Reject'
  )

  const annRun = await ann
  expect(annRun.reason).toBe('identity-rejected')
  // a decision would take the card away at once; give it well over the time one takes
  await page.waitForTimeout(1500)
  await expect(rows).toHaveCount(1)
  await expect(rows.first()).toHaveAttribute('data-session-id', boId ?? '-')
  await expect(page.getByTestId('approval-notice')).toHaveCount(1)
  await expect(page.getByTestId('approval-notice')).toContainText('Rejected Ann.')

  // Bo's card takes a click aimed at it, and both decisions stay reported.
  await rows.first().getByTestId('approve-button').click()
  expect((await bo).code).toBe(0)
  await expect(page.getByTestId('approvals-empty')).toBeVisible()
  const notices = page.getByTestId('approval-notice')
  await expect(notices).toHaveCount(2)
  await expect(notices.nth(0)).toContainText('Approved Bo.')
  await expect(notices.nth(1)).toContainText('Rejected Ann.')
})

test('deciding with the keyboard: focus moves to the next customer’s card, then to the heading', async ({
  taleus: { page }
}) => {
  const { ann, bo, rows } = await twoWaiting(page)
  const boRow = page.locator(
    `[data-testid=approval-row][data-session-id="${await rows.nth(1).getAttribute('data-session-id')}"]`
  )
  await rows.first().getByTestId('reject-button').focus()
  await page.keyboard.press('Enter')
  expect((await ann).reason).toBe('identity-rejected')
  await expect(rows).toHaveCount(1)
  await expect(boRow).toBeFocused()
  // Tab goes into the card that has focus: its first button is Approve
  await page.keyboard.press('Tab')
  await expect(boRow.getByTestId('approve-button')).toBeFocused()
  await page.keyboard.press('Enter')
  expect((await bo).code).toBe(0)
  await expect(page.getByTestId('approvals-empty')).toBeVisible()
  await expect(page.getByRole('heading', { name: 'Waiting for your approval' })).toBeFocused()
})
