/** Node screen: the audit trail's integrity and the operator's actions, and a tampered trail shows as altered. */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createTokenInUi, expect, test } from './fixtures.ts'

test('the Node screen says the trail is intact, lists who did what, and notices an edit', async ({
  taleus: { page, node }
}) => {
  test.skip(node == null, 'the browser console only (the test edits the data folder)')
  await createTokenInUi(page, { label: 'Audited' })
  await page.getByTestId('nav-node').click()
  await expect(page.getByTestId('audit-verify-result')).toHaveAttribute('data-ok', 'true')
  await expect(page.getByTestId('operation-row').filter({ hasText: 'Created a token' })).toContainText(
    'browser console'
  )

  // Someone edits a record of the trail on disk.
  const file = join(node!.dataDir, 'audit.jsonl')
  await expect.poll(async () => (await readFile(file, 'utf8')).includes('token-create')).toBe(true)
  const text = await readFile(file, 'utf8')
  await writeFile(file, text.replace('token-create', 'token-revoke'))
  await page.getByTestId('audit-verify').click()
  await expect(page.getByTestId('audit-verify-result')).toHaveAttribute('data-ok', 'false')
  await expect(page.getByTestId('audit-verify-result')).toContainText('altered')
})
