/**
 * One TallyDb per folder: a second open, in this process or another, is refused with TallyDbLockedError
 * (two writers appending to one journal would interleave and lose documents); a holder killed with
 * SIGKILL leaves the folder to the next open.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { randomBytes } from 'node:crypto'
import type { Libp2p } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTaleusNode } from '../../main/node/index.ts'
import { TallyDb } from '../../main/tallydb/index.ts'
import { sourceUrl, tsLoader } from '../helpers/ts-child.ts'

const HOLDER = `
const { openFolderBackend } = await import(${JSON.stringify(sourceUrl('main/tallydb/folder-backend.ts'))})
await openFolderBackend(process.argv[1])
process.stdout.write('held\\n')
setInterval(() => {}, 60_000)
`

describe('TallyDb folder lock', () => {
  let node: Libp2p
  let dir: string
  let loader: { dir: string; execArgv: string[] }
  const grantKey = randomBytes(32)

  beforeAll(async () => {
    node = await createTaleusNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    dir = await mkdtemp(join(tmpdir(), 'taleus-tallydb-lock-'))
    loader = await tsLoader()
  })

  afterAll(async () => {
    await node.stop()
    await rm(dir, { recursive: true, force: true })
    await rm(loader.dir, { recursive: true, force: true })
  })

  it('refuses a second open in this process, and opens again once the first is closed', async () => {
    const first = await TallyDb.open({ dir, libp2p: node, grantKey, reconnectMs: 0 })
    await expect(TallyDb.open({ dir, libp2p: node, grantKey, reconnectMs: 0 })).rejects.toMatchObject({
      name: 'TallyDbLockedError'
    })
    await first.close()
    const again = await TallyDb.open({ dir, libp2p: node, grantKey, reconnectMs: 0 })
    await again.close()
  })

  it('refuses an open while another process holds the folder, and takes it over once that one is killed', async () => {
    const holder = spawn(process.execPath, [...loader.execArgv, '--input-type=module', '-e', HOLDER, dir], {
      stdio: ['ignore', 'pipe', 'inherit']
    })
    try {
      const lines = createInterface({ input: holder.stdout })
      await new Promise<void>((resolve, reject) => {
        lines.once('line', () => resolve())
        holder.once('exit', (code) => reject(new Error(`holder exited ${code}`)))
      })
      const refused = await TallyDb.open({ dir, libp2p: node, grantKey, reconnectMs: 0 }).catch(
        (e: Error) => e
      )
      expect(refused).toMatchObject({ name: 'TallyDbLockedError', pid: holder.pid })
      expect((refused as Error).message).toContain(`process ${holder.pid}`)
    } finally {
      const exited = new Promise((resolve) => holder.once('exit', resolve))
      holder.kill('SIGKILL')
      await exited
    }
    const after = await TallyDb.open({ dir, libp2p: node, grantKey, reconnectMs: 0 })
    expect(after.size).toBe(0)
    await after.close()
  })
})
