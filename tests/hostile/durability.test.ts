/**
 * Faults and durability: kill -9 of `taleus serve` during 100 concurrent bootstraps and a restart on the
 * same folder (kill-rush.ts; on lowdb and on PostgreSQL); a data folder that cannot be created (a path under a regular file: root ignores file
 * modes, so chmod cannot make a folder read-only here); and a full disk injected at the journal's write
 * boundary (FileHandle.write fails with ENOSPC, once after a half-written batch). Each: a clear error,
 * the store still parses, nothing half-written, no session lost without a record, no secret in any output.
 */
import { open, readFile, writeFile } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import type { Libp2p } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionManager } from '../../main/bootstrap/index.ts'
import type { BootstrapResult } from '../../main/bootstrap/index.ts'
import { openStore } from '../../main/store/index.ts'
import type { TallyView } from '../../preload/contract.ts'
import { TEST_PG, dropSchemas, freshSchema } from '../helpers/stores.ts'
import { MemoryHooks } from '../integration/protocol-helpers.ts'
import {
  SecretWatch,
  dialerNodes,
  hostileStores,
  removeDir,
  schemaTexts,
  startStoreListener,
  tempDir
} from './helpers.ts'
import { killMidRush, readJsonLines } from './kill-rush.ts'
import { ROOT, ensureBuilt } from './serve-process.ts'

const watch = new SecretWatch()

describe.each(hostileStores())(
  'kill -9 of taleus serve on $name during 100 concurrent bootstraps',
  (kind) => {
    let dir: string
    let schema: string | undefined
    const nodes: Libp2p[] = []
    beforeAll(async () => {
      ensureBuilt()
      dir = await tempDir('crash')
      schema = kind.name === 'postgres' ? freshSchema() : undefined
    })
    afterAll(async () => {
      await Promise.all(nodes.map((n) => n.stop()))
      await removeDir(dir)
      if (schema !== undefined) await dropSchemas(TEST_PG as string, [schema])
    })

    it('restart: the store reads back, every confirmed bootstrap is there, the rest abandoned, none lost or double', async () => {
      await killMidRush(schema === undefined ? { dir } : { dir, schema }, watch, nodes)
      await watch.folder(dir)
      if (schema !== undefined) for (const t of await schemaTexts(schema)) watch.text(t.source, t.text)
    })
  }
)

// lowdb only by nature: a PostgreSQL node keeps only its node name in the folder (its server refusing
// writes or going away is pg-outage.test.ts)
describe('a data folder that cannot be written', () => {
  let dir: string
  beforeAll(async () => {
    dir = await tempDir('readonly')
  })
  afterAll(async () => {
    await removeDir(dir)
  })

  it('a data folder under a regular file: openStore throws StoreWriteError, serve exits with one clear line', async () => {
    const file = join(dir, 'not-a-folder')
    await writeFile(file, 'keep me\n')
    const err = await openStore(join(file, 'data')).catch((e: unknown) => e)
    expect((err as Error).name).toBe('StoreWriteError')
    expect((err as { kind: string }).kind).toBe('io')
    watch.error('openStore', err)

    ensureBuilt()
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin/taleus.js'), 'serve', '--data-dir', join(file, 'data'), '--no-mdns'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)))
    expect(code).not.toBe(0)
    expect(out).toMatch(/not-a-folder/)
    expect(out).not.toContain('"event":"ready"')
    watch.text('serve (bad folder) output', out)
    // what was there is untouched
    expect(await readFile(file, 'utf8')).toBe('keep me\n')
  })
})

// lowdb only by nature: the journals are local files (the PostgreSQL server's own full disk is pg-outage.test.ts)
describe('a full disk, injected at the journal write boundary', () => {
  let restore: (() => void) | undefined
  afterAll(() => restore?.())

  it('ENOSPC (after a half-written batch) fails the bootstraps cleanly; the data already there stays whole', async () => {
    const A = await startStoreListener({ stepTimeoutMs: 5000 })
    const [b] = await dialerNodes(1)
    try {
      const { token } = await A.store.createToken({ role: 'stock', uses: 'unlimited' })
      watch.secret(token)
      const link = { token, role: 'stock' as const, responderPeerAddrs: [A.addr()] }
      const bootstrap = (): Promise<BootstrapResult> =>
        new SessionManager(new MemoryHooks('B'), { stepTimeoutMs: 5000 }).initiateBootstrap(link, b!)
      const before = [await bootstrap(), await bootstrap()]
      await A.idle()

      // every FileHandle.write in this process: the first writes half its bytes, the next ones fail ENOSPC
      const probe: FileHandle = await open(join(A.dir, 'probe'), 'w')
      const proto = Object.getPrototypeOf(probe) as {
        write: (...args: unknown[]) => Promise<{ bytesWritten: number }>
      }
      await probe.close()
      const original = proto.write
      let calls = 0
      let faults = 0
      proto.write = async function (this: FileHandle, ...args: unknown[]) {
        const [buf, offset = 0, length] = args as [Buffer, number, number | undefined]
        if (calls++ === 0 && Buffer.isBuffer(buf)) {
          const len = length ?? buf.length - offset
          return original.call(this, buf, offset, Math.max(1, Math.floor(len / 2)))
        }
        faults++
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
          code: 'ENOSPC',
          errno: -28
        })
      }
      restore = () => {
        proto.write = original
      }
      // a listener's draft is held in memory, so the first fault comes at A's confirmation, after B's Ack:
      // A can only reset the stream (B's tally then ends abandoned, A having none)
      const failed = await bootstrap().catch((e: unknown) => e)
      await A.idle()
      expect((failed as { reason: string }).reason).toBe('internal-error')
      // from then on, until a write succeeds, drafts go to disk before the answer: the dialer is told why
      const refused = await bootstrap().catch((e: unknown) => e)
      await A.idle()
      restore()
      restore = undefined
      expect((refused as { reason: string }).reason).toBe('provision-failed')
      watch.error('dialer (disk full)', failed)
      watch.error('dialer (disk full, refused)', refused)
      expect(faults).toBeGreaterThan(1)
      // the store still answers, with exactly the tallies it had
      expect(
        A.store
          .listTallies()
          .map((t) => t.tallyId)
          .sort()
      ).toEqual(before.map((r) => r.tally.tallyId).sort())
      // the disk has room again: the next bootstrap works
      const after = await bootstrap()
      await A.idle()
      await A.store.close()
      const records = await readJsonLines<TallyView>(join(A.dir, 'tallies.jsonl'), false)
      const latest = new Map(records.map((r) => [r.tallyId, r.status]))
      expect(latest).toEqual(new Map([...before, after].map((r) => [r.tally.tallyId, 'confirmed'])))
      await readJsonLines(join(A.dir, 'audit.jsonl'), false)
      const reopened = await openStore(A.dir)
      expect(reopened.listTallies()).toHaveLength(3)
      await reopened.close()
      for (const r of [...before, after]) watch.secret(r.dbConnectionInfo.credentials)
      await watch.folder(A.dir)
      console.info(
        `disk full: ${faults} write faults injected (after 1 half-written batch); tallies kept 3/3`
      )
    } finally {
      restore?.()
      await b!.stop()
      await A.close()
    }
  })
})

describe('secrets', () => {
  it('no token, API secret or tally credential in any output, audit record, journal or error of this file', () => {
    expect(watch.secrets.size).toBeGreaterThan(3)
    expect(watch.texts.length).toBeGreaterThan(5)
    expect(watch.leaks()).toEqual([])
  })
})
