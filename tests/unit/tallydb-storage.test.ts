/**
 * The tally database's journal storage: automerge-repo's own storage adapter acceptance tests (shipped in
 * the package), plus what the journal adds: chunks survive a reopen, removals too, and a damaged line
 * stops the open instead of silently dropping a chunk; a document's first state kept outside (its index
 * entry) shows as a chunk until it is removed, and stays removed across reopens and a compaction.
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

  it("shows a document's first state kept outside as a chunk, until removed, for good", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'taleus-chunks-'))
    dirs.push(dir)
    const path = join(dir, 'chunks.jsonl')
    const outside = new Map([
      ['doc1', new Uint8Array([7, 7])],
      ['doc2', new Uint8Array([8])]
    ])
    const open = async (): Promise<JournalStorageAdapter> =>
      JournalStorageAdapter.open(path, (id) => outside.get(id))
    const first = await open()
    await first.save(['doc1', 'incremental', 'h1'], new Uint8Array([1]))
    const firstKey = ['doc1', 'incremental', 'first']
    // what automerge-repo asks for: the document's incrementals, and the whole document
    expect(await first.loadRange(['doc1', 'incremental'])).toEqual([
      { key: ['doc1', 'incremental', 'h1'], data: new Uint8Array([1]) },
      { key: firstKey, data: new Uint8Array([7, 7]) }
    ])
    expect((await first.loadRange(['doc1'])).map((c) => c.key)).toContainEqual(firstKey)
    expect(await first.loadRange(['doc1', 'snapshot'])).toEqual([])
    expect(await first.load(firstKey)).toEqual(new Uint8Array([7, 7]))
    expect(await first.load(['doc3', 'incremental', 'first'])).toBeUndefined()
    // a compaction: a snapshot saved, the old chunks removed, the first state with them
    await first.save(['doc1', 'snapshot', 's'], new Uint8Array([9]))
    await first.remove(['doc1', 'incremental', 'h1'])
    await first.remove(firstKey)
    expect(await first.loadRange(['doc1'])).toEqual([
      { key: ['doc1', 'snapshot', 's'], data: new Uint8Array([9]) }
    ])
    await first.removeRange(['doc2'])
    expect(await first.loadRange(['doc2'])).toEqual([])
    await first.close()

    const again = await open()
    expect(await again.load(firstKey)).toBeUndefined()
    expect(await again.loadRange(['doc1'])).toHaveLength(1)
    expect(await again.loadRange(['doc2'])).toEqual([])
    // enough superseded lines for a compaction at open: the removals of first states survive it
    for (let i = 0; i < 1100; i++) await again.save(['doc4', 'incremental', 'x'], new Uint8Array([i & 0xff]))
    await again.close()
    const compacted = await open()
    expect((await readFile(path, 'utf8')).split('\n').length).toBeLessThan(10)
    expect(await compacted.loadRange(['doc1'])).toHaveLength(1)
    expect(await compacted.loadRange(['doc2'])).toEqual([])
    await compacted.close()
  })
})
