/**
 * The tally documents' backend on the cadre's PostgreSQL: automerge-repo's own storage adapter acceptance
 * tests against PgTallyStorage, then what the cadre adds — two nodes on one schema see each other's chunks
 * (with their bytes in the note) and index entries, a revocation is sticky and read fresh, and a node that
 * holds a document open merges the chunk another node's Repo saved. Needs TALEUS_TEST_PG; skipped without.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { next as A } from '@automerge/automerge'
import { Repo } from '@automerge/automerge-repo'
import type { DocumentId } from '@automerge/automerge-repo'
import type { StorageKey } from '@automerge/automerge-repo/slim'
import { runStorageAdapterTests } from '@automerge/automerge-repo/helpers/tests/storage-adapter-tests.js'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import pg from 'pg'
import { openPgStore } from '../../main/store/pg/index.ts'
import { PgTallyStorage } from '../../main/store/pg/pg-tally-storage.ts'
import type { PgNotifier } from '../../main/store/pg/pg-notifier.ts'
import type { PgMerchantStore } from '../../main/store/pg/index.ts'
import type { SharedChanges, TallyDbBackend } from '../../main/tallydb/index.ts'
import { mergeStoredChunk } from '../../main/tallydb/shared-merge.ts'
import type { IndexEntry } from '../../main/tallydb/tally-index.ts'
import { dropSchemas, freshSchema } from '../helpers/stores.ts'

const { Pool } = pg
const PG = process.env.TALEUS_TEST_PG
if (PG === undefined)
  process.stderr.write('SKIPPED tests/integration/pg-tally-docs.test.ts: TALEUS_TEST_PG is not set\n')

/** A cadre node's store on `schema` and its documents' backend. */
async function node(
  schema: string,
  name: string
): Promise<{ store: PgMerchantStore; backend: TallyDbBackend; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), `taleus-pgdocs-${name}-`))
  const store = await openPgStore({ url: PG as string, dataDir: dir, schema, node: name, auditFlushMs: 10 })
  return { store, backend: await store.tallyBackend(), dir }
}

async function until<T>(probe: () => T | undefined): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = probe()
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error('condition not met in time')
}

/** Records what a backend tells its follower. */
function recorder(): SharedChanges & {
  chunks: Array<{ documentId: string; key: StorageKey; data?: Uint8Array }>
  entries: IndexEntry[]
} {
  const chunks: Array<{ documentId: string; key: StorageKey; data?: Uint8Array }> = []
  const entries: IndexEntry[] = []
  return {
    chunks,
    entries,
    chunk: (documentId, key, data) =>
      chunks.push({ documentId, key, ...(data === undefined ? {} : { data }) }),
    entry: (entry) => entries.push(entry),
    resumed: () => {}
  }
}

describe.skipIf(PG === undefined)('tally documents on PostgreSQL', () => {
  describe('storage adapter acceptance', () => {
    let schema: string
    let n: Awaited<ReturnType<typeof node>>
    runStorageAdapterTests(async () => {
      schema = freshSchema()
      n = await node(schema, 'acc')
      return {
        adapter: n.backend.storage,
        teardown: async () => {
          await n.store.close()
          await dropSchemas(PG as string, [schema])
          await rm(n.dir, { recursive: true, force: true })
        }
      }
    }, 'postgres')
  })

  it('after its store closed the pool, a late compaction of automerge-repo writes nothing and raises nothing', async () => {
    const pool = new Pool({ connectionString: PG })
    await pool.end()
    const storage = new PgTallyStorage({ pool, node: 'late', notifier: {} as PgNotifier })
    await expect(storage.save(['d', 'snapshot', 'h'], new Uint8Array([1]))).resolves.toBeUndefined()
    await expect(storage.remove(['d', 'incremental', 'h'])).resolves.toBeUndefined()
    await expect(storage.removeRange(['d'])).resolves.toBeUndefined()
  })

  describe('two nodes on one schema', () => {
    let schema: string
    let one: Awaited<ReturnType<typeof node>>
    let two: Awaited<ReturnType<typeof node>>

    beforeEach(async () => {
      schema = freshSchema()
      one = await node(schema, 'n1')
      two = await node(schema, 'n2')
    })

    afterEach(async () => {
      await Promise.all([one.store.close(), two.store.close()])
      await dropSchemas(PG as string, [schema])
      await Promise.all([one.dir, two.dir].map(async (d) => rm(d, { recursive: true, force: true })))
    })

    it('a chunk saved on one node reaches the other with its bytes; a big one by its key', async () => {
      const seen = recorder()
      two.backend.follow(seen)
      await one.backend.storage.save(['docA', 'incremental', 'h1'], new Uint8Array([1, 2, 3]))
      const big = new Uint8Array(20_000).fill(7)
      await one.backend.storage.save(['docA', 'snapshot', 'h2'], big)
      // not a document chunk: nobody is told
      await one.backend.storage.save(['docA', 'sync-state', 'x'], new Uint8Array([9]))
      await until(() => (seen.chunks.length >= 2 ? true : undefined))
      expect(seen.chunks[0]).toEqual({
        documentId: 'docA',
        key: ['docA', 'incremental', 'h1'],
        data: new Uint8Array([1, 2, 3])
      })
      expect(seen.chunks[1]).toEqual({ documentId: 'docA', key: ['docA', 'snapshot', 'h2'] })
      expect(await two.backend.storage.load(['docA', 'snapshot', 'h2'])).toEqual(big)
      // a node never hears its own notes
      const own = recorder()
      one.backend.follow(own)
      await one.backend.storage.save(['docB', 'incremental', 'h3'], new Uint8Array([4]))
      await until(() => (seen.chunks.length >= 3 ? true : undefined))
      expect(own.chunks).toEqual([])
    })

    it('an entry written on one node is mirrored on the other; a revocation is sticky and read fresh', async () => {
      const seen = recorder()
      two.backend.follow(seen)
      const entry: IndexEntry = {
        tallyId: 't1',
        documentId: 'd1',
        counterpartyPeerId: 'customer',
        provisioner: true,
        nodes: ['/ip4/127.0.0.1/tcp/1'],
        createdAt: 1
      }
      await one.backend.index.put(entry)
      expect(one.backend.index.get('t1')).toEqual({ ...entry, revoked: false })
      const mirrored = await until(() => two.backend.index.get('t1'))
      expect(mirrored).toEqual({ ...entry, revoked: false })
      expect(two.backend.index.tallyOf('d1')).toBe('t1')
      expect(two.backend.index.size).toBe(1)

      await two.backend.index.put({ ...mirrored, revoked: true })
      // node 1 reads the row as it is now, whether or not the note has arrived
      expect((await one.backend.index.load!('t1'))?.revoked).toBe(true)
      // writing the entry again without the flag does not take the revocation back
      await one.backend.index.put({ ...entry })
      expect((await two.backend.index.load!('t1'))?.revoked).toBe(true)
      expect(await one.backend.index.load!('nope')).toBeUndefined()
      // the follower heard the new entry (node 1's writes; its own revocation it applied itself)
      await until(() => (seen.entries.length >= 2 ? true : undefined))
      expect(seen.entries.every((e) => e.tallyId === 't1')).toBe(true)
      // another node cannot take a document id already in use for another tally
      await expect(one.backend.index.put({ ...entry, tallyId: 't2' })).rejects.toMatchObject({
        code: '23505'
      })
    })

    it('a document open on node 2 merges the change node 1 saved', async () => {
      const repoOne = new Repo({ storage: one.backend.storage, isEphemeral: true })
      const repoTwo = new Repo({ storage: two.backend.storage, isEphemeral: true })
      let following = true
      two.backend.follow({
        // as TallyDb follows it: nothing more is merged once the repo shuts down
        chunk: (documentId, key, data) => {
          if (following) void mergeStoredChunk(repoTwo, two.backend.storage, documentId, key, data)
        },
        entry: () => {},
        resumed: () => {}
      })
      try {
        const created = repoOne.create<{ n: number; by?: string }>({ n: 1 })
        await repoOne.flush([created.documentId])
        const onTwo = await repoTwo.find<{ n: number; by?: string }>(created.documentId as DocumentId)
        expect(onTwo.doc().n).toBe(1)
        created.change((d) => {
          d.n = 2
          d.by = 'one'
        })
        await repoOne.flush([created.documentId])
        await until(() => (onTwo.doc().n === 2 ? true : undefined))
        expect(onTwo.doc().by).toBe('one')
        // and the stored chunks load as one document on a third repo
        const repoThree = new Repo({ storage: two.backend.storage, isEphemeral: true })
        const onThree = await repoThree.find<{ n: number }>(created.documentId as DocumentId)
        expect(A.getHeads(onThree.doc())).toEqual(A.getHeads(onTwo.doc()))
        await repoThree.shutdown()
      } finally {
        following = false
        await Promise.all([repoOne.shutdown(), repoTwo.shutdown()])
      }
    })
  })
})
