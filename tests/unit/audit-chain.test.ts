import { mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { SessionEvent } from '../../main/bootstrap/types.ts'
import { verifyChain } from '../../main/store/audit-chain.ts'
import { AuditLog } from '../../main/store/audit-log.ts'
import { sealLine, unsealLine } from '../../main/store/journal-seal.ts'

function event(i: number): SessionEvent {
  return {
    sessionId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    direction: 'outbound',
    state: 'D_SEND_CONTACT',
    previousState: null,
    at: 1000 + i,
    peerId: 'peer-B'
  }
}

/** A trail of `n` events and an operator record every 50, rotated over 4 files when `small`. */
async function writeTrail(path: string, n: number, small: boolean): Promise<void> {
  const init = small ? { maxBytes: 64 * 1024, files: 4 } : {}
  const log = await AuditLog.open(path, { flushMs: 0, coalesceMs: 0, ...init })
  for (let i = 0; i < n; i++) {
    log.append(event(i))
    if (i % 50 === 49) {
      log.appendOp({ op: 'token-create', actor: 'cli', at: 1000 + i, tokenId: `t${i}` })
      await log.flush()
    }
  }
  await log.close()
}

async function fileLines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '')
}

async function rewrite(path: string, edit: (lines: string[]) => string[]): Promise<void> {
  await writeFile(path, edit(await fileLines(path)).join('\n') + '\n')
}

describe('audit hash chain', () => {
  let dir: string
  let path: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-chain-'))
    path = join(dir, 'audit.jsonl')
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('the hash covers the record as written: a re-ordered but equal record does not verify', async () => {
    await writeTrail(path, 30, false)
    await rewrite(path, (lines) => {
      const text = unsealLine(lines[3] as string)?.text as string
      const { h, ...rest } = JSON.parse(text) as Record<string, unknown>
      const reordered = Object.fromEntries(Object.entries(rest).reverse())
      lines[3] = sealLine(JSON.stringify({ ...reordered, h }))
      return lines
    })
    expect((await verifyChain(path)).firstBreak).toMatchObject({ file: 'audit.jsonl', line: 4 })
  })

  it('a clean trail verifies, across rotated files and a reopen', async () => {
    await writeTrail(path, 1500, true)
    expect((await readdir(dir)).filter((n) => n.endsWith('.jsonl'))).toHaveLength(4)
    // a second run continues the same chain
    await writeTrail(path, 300, true)
    const report = await verifyChain(path)
    expect(report).toMatchObject({ ok: true, files: 4, anchored: true, unchained: 0 })
    expect(report.records).toBeGreaterThan(200)
    expect(report.firstBreak).toBeUndefined()
  })

  it('an edited record (checksum recomputed) is found: its file and line', async () => {
    await writeTrail(path, 200, false)
    await rewrite(path, (lines) => {
      const text = unsealLine(lines[10] as string)?.text as string
      const record = JSON.parse(text) as Record<string, unknown>
      record.peerId = 'someone-else'
      lines[10] = sealLine(JSON.stringify(record))
      return lines
    })
    const report = await verifyChain(path)
    expect(report.ok).toBe(false)
    expect(report.firstBreak).toMatchObject({ file: 'audit.jsonl', line: 11 })
  })

  it('a deleted record is found at the line after it', async () => {
    await writeTrail(path, 200, false)
    await rewrite(path, (lines) => lines.filter((_, i) => i !== 20))
    const report = await verifyChain(path)
    expect(report.ok).toBe(false)
    expect(report.firstBreak).toMatchObject({ file: 'audit.jsonl', line: 21 })
  })

  it('records cut from the end are found through the head anchor, also after the node restarts', async () => {
    await writeTrail(path, 200, false)
    await rewrite(path, (lines) => lines.slice(0, -5))
    expect((await verifyChain(path)).firstBreak?.reason).toMatch(/end of the trail/)
    // a restart writes a gap record, so later writes and anchors cannot hide the loss
    await writeTrail(path, 10, false)
    const report = await verifyChain(path)
    expect(report.ok).toBe(false)
    expect(report.firstBreak?.reason).toMatch(/missing at the end/)
  })

  it('a deleted rotated file is found: the oldest, one in the middle, and the current one', async () => {
    await writeTrail(path, 1500, true)
    expect((await verifyChain(path)).ok).toBe(true)
    const copy = async (from: string, to: string): Promise<void> => writeFile(to, await readFile(from))
    const keep = join(dir, 'keep')
    await rm(keep, { force: true, recursive: true })
    for (const n of ['audit.1.jsonl', 'audit.2.jsonl', 'audit.3.jsonl', 'audit.jsonl'])
      await copy(join(dir, n), join(dir, `${n}.bak`))
    const restore = async (): Promise<void> => {
      for (const n of ['audit.1.jsonl', 'audit.2.jsonl', 'audit.3.jsonl', 'audit.jsonl'])
        await copy(join(dir, `${n}.bak`), join(dir, n))
    }

    await unlink(join(dir, 'audit.3.jsonl'))
    const oldest = await verifyChain(path)
    expect(oldest.ok).toBe(false)
    expect(oldest.firstBreak?.reason).toMatch(/oldest file/)
    await restore()

    await unlink(join(dir, 'audit.2.jsonl'))
    const middle = await verifyChain(path)
    expect(middle.ok).toBe(false)
    expect(middle.firstBreak?.file).toBe('audit.1.jsonl')
    await restore()

    await unlink(join(dir, 'audit.jsonl'))
    expect((await verifyChain(path)).ok).toBe(false)
    // and a node started on the shortened trail records the loss
    await writeTrail(path, 5, true)
    expect((await verifyChain(path)).ok).toBe(false)
  })

  it('a damaged line is reported as damage', async () => {
    await writeTrail(path, 100, false)
    await rewrite(path, (lines) => {
      lines[5] = (lines[5] as string).replace('peer-B', 'peer-C')
      return lines
    })
    const report = await verifyChain(path)
    expect(report.firstBreak).toMatchObject({ line: 6, reason: expect.stringMatching(/damaged/) as string })
  })

  it('a trail written before the chain is kept as unchained history and the chain starts after it', async () => {
    await writeFile(path, [JSON.stringify(event(1)), JSON.stringify(event(2))].join('\n') + '\n')
    await writeTrail(path, 20, false)
    const report = await verifyChain(path)
    expect(report).toMatchObject({ ok: true, unchained: 2 })
    const log = await AuditLog.open(path)
    expect(await log.query({ limit: 100 })).toHaveLength(22)
    await log.close()
  })
})
