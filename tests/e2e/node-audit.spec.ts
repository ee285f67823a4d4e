/** Node screen: the audit trail's integrity and the operator's actions, and a tampered trail shows as altered. */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { OperationView } from '../../preload/contract.ts'
import { cliDial, createTokenInUi, expect, test } from './fixtures.ts'

test('the Node screen says the trail is intact, lists who did what, and notices an edit', async ({
  taleus: { page, node }
}) => {
  test.skip(node == null, 'the browser console only (the test edits the data folder)')
  const link = await createTokenInUi(page, { label: 'Audited' })
  expect((await cliDial(link)).code).toBe(0)
  await page.getByTestId('nav-node').click()
  await expect(page.getByTestId('audit-verify-result')).toHaveAttribute('data-ok', 'true')
  await expect(page.getByTestId('operation-row').filter({ hasText: 'Created a token' })).toContainText(
    'browser console'
  )

  // The audit table's export is built by the node with the table's rows and is itself recorded.
  await expect(page.getByTestId('audit-row').first()).toBeVisible()
  const shown = await page.getByTestId('audit-row').count()
  const download = page.waitForEvent('download')
  await page.getByTestId('export-audit-csv').click()
  const lines = (await readFile(await (await download).path(), 'utf8')).split('\r\n').filter((l) => l !== '')
  expect(lines[0]).toBe('"Time","Session","Direction","From","State","Peer","Token","Tally","Reason"')
  expect(lines).toHaveLength(shown + 1)
  await expect(page.getByTestId('operation-row').filter({ hasText: 'Exported rows' })).toContainText(
    'browser console'
  )
  const ops = await node!.call<OperationView[]>('GET', '/api/audit/operations')
  expect(ops.find((op) => op.op === 'export')).toMatchObject({
    actor: 'browser',
    detail: { what: 'audit', format: 'csv', rows: shown }
  })

  // Someone edits a record of the trail on disk.
  const file = join(node!.dataDir, 'audit.jsonl')
  await expect.poll(async () => (await readFile(file, 'utf8')).includes('token-create')).toBe(true)
  const text = await readFile(file, 'utf8')
  await writeFile(file, text.replace('token-create', 'token-revoke'))
  await page.getByTestId('audit-verify').click()
  await expect(page.getByTestId('audit-verify-result')).toHaveAttribute('data-ok', 'false')
  await expect(page.getByTestId('audit-verify-result')).toContainText('altered')
})
