/**
 * The tally database's journal storage: automerge-repo's own storage adapter acceptance tests (shipped in
 * the package), plus what the journal adds: chunks survive a reopen, removals too, and a damaged line
 * stops the open instead of silently dropping a chunk.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runStorageAdapterTests } from '@automerge/automerge-repo/helpers/tests/storage-adapter-tests.js'
import { afterEach, describe, expect, it } from 'vitest'
import { JournalStorageAdapter } from '../../main/tallydb/journal-storage.ts'

runStorageAdapterTests(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'taleus-chunks-'))
  const adapter = await JournalStorageAdapter.open(join(dir, 'chunks.jsonl'))
  return {
    adapter,
    teardown: async () => {
      await adapter.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}, 'journal')

describe('journal storage on disk', () => {
  const dirs: string[] = []
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map(async (d) => rm(d, { recursive: true, force: true })))
  })

  it('keeps saves and removals across a reopen; a damaged line stops the open', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'taleus-chunks-'))
    dirs.push(dir)
    const path = join(dir, 'chunks.jsonl')
    const first = await JournalStorageAdapter.open(path)
    await first.save(['doc1', 'incremental', 'a'], new Uint8Array([1, 2, 3]))
    await first.save(['doc1', 'incremental', 'b'], new Uint8Array([4]))
    await first.save(['doc2', 'snapshot', 'c'], new Uint8Array([5]))
    await first.remove(['doc1', 'incremental', 'b'])
    await first.removeRange(['doc2'])
    await first.close()

    const again = await JournalStorageAdapter.open(path)
    expect(await again.load(['doc1', 'incremental', 'a'])).toEqual(new Uint8Array([1, 2, 3]))
    expect(await again.load(['doc1', 'incremental', 'b'])).toBeUndefined()
    expect(await again.loadRange(['doc2'])).toEqual([])
    await again.close()

    const text = await readFile(path, 'utf8')
    await writeFile(path, text.replace('"doc1"', '"doc9"'))
    await expect(JournalStorageAdapter.open(path)).rejects.toMatchObject({ name: 'JournalCorruptError' })
  })
})
