/**
 * The ledger's write-ahead on real files: a tally's first line never reaches the disk before a record of
 * its session does. A listener's held draft starts that flush when it is held, so its confirmation needs
 * no flush of its own unless the early one failed.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TypedEventEmitter } from 'main-event'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { AuditLog } from '../../main/store/audit-log.ts'
import { TallyBook } from '../../main/store/tally-book.ts'
import type { TallyRecord } from '../../main/store/tally-book.ts'
import { TallyLedger } from '../../main/store/tally-ledger.ts'
import type { StoreEvents } from '../../main/store/types.ts'

function draft(tallyId: string, sessionId: string): TallyRecord {
  return {
    tallyId,
    sessionId,
    role: 'stock',
    direction: 'inbound',
    status: 'draft',
    localPeerId: 'peer-A',
    counterpartyPeerId: 'peer-B',
    createdAt: 1,
    updatedAt: 1,
    tally: {
      tallyId,
      createdBy: 'stock',
      initiatorPeerId: 'peer-B',
      respondentPeerId: 'peer-A',
      createdAt: new Date(1).toISOString()
    },
    dbConnectionInfo: { nodes: ['/ip4/127.0.0.1/tcp/4001/p2p/peer-A'], credentials: '' }
  }
}

describe('tally ledger write-ahead', () => {
  let dir: string
  let tallies: TallyBook
  let audit: AuditLog
  let ledger: TallyLedger

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-ledger-'))
    tallies = await TallyBook.open(join(dir, 'tallies.jsonl'))
    // a long window: nothing reaches the trail unless someone flushes it
    audit = await AuditLog.open(join(dir, 'audit.jsonl'), { flushMs: 60_000 })
    ledger = new TallyLedger({ tallies, audit, events: new TypedEventEmitter<StoreEvents>(), now: () => 2 })
  })

  afterEach(async () => {
    await audit.close()
    await tallies.close()
    await rm(dir, { recursive: true, force: true })
  })

  const onDisk = async (name: string): Promise<string> => readFile(join(dir, name), 'utf8').catch(() => '')

  it("a held draft's session record is flushed while the answer travels; its confirmation flushes nothing more", async () => {
    const flush = vi.spyOn(audit, 'flush')
    audit.append({
      sessionId: 's1',
      direction: 'inbound',
      state: 'L_PROCESS_CONTACT',
      previousState: null,
      at: 1
    })
    await ledger.record(draft('t1', 's1'))
    expect(await onDisk('tallies.jsonl')).not.toContain('t1')
    await vi.waitFor(async () => expect(await onDisk('audit.jsonl')).toContain('"sessionId":"s1"'))
    expect(flush).toHaveBeenCalledTimes(1)

    await ledger.settle('t1', 'confirmed')
    expect(flush).toHaveBeenCalledTimes(1)
    expect(await onDisk('tallies.jsonl')).toContain('"tallyId":"t1"')
    expect(tallies.get('t1')?.status).toBe('confirmed')
  })

  it('an early flush that failed is done again before the first line', async () => {
    const flush = vi.spyOn(audit, 'flush').mockRejectedValueOnce(new Error('disk full for a moment'))
    const put = vi.spyOn(tallies, 'put')
    audit.append({
      sessionId: 's2',
      direction: 'inbound',
      state: 'L_PROCESS_CONTACT',
      previousState: null,
      at: 1
    })
    await ledger.record(draft('t2', 's2'))
    await ledger.settle('t2', 'confirmed')
    expect(flush).toHaveBeenCalledTimes(2)
    expect(flush.mock.invocationCallOrder[1]).toBeLessThan(put.mock.invocationCallOrder[0]!)
    expect(await onDisk('audit.jsonl')).toContain('"sessionId":"s2"')
    expect(await onDisk('tallies.jsonl')).toContain('"tallyId":"t2"')
  })

  it('a draft we dialled is written at once, after a flush of the trail', async () => {
    const flush = vi.spyOn(audit, 'flush')
    audit.append({
      sessionId: 's3',
      direction: 'outbound',
      state: 'D_SEND_CONTACT',
      previousState: null,
      at: 1
    })
    await ledger.record({ ...draft('t3', 's3'), direction: 'outbound' })
    expect(flush).toHaveBeenCalledTimes(1)
    expect(await onDisk('audit.jsonl')).toContain('"sessionId":"s3"')
    expect(await onDisk('tallies.jsonl')).toContain('"tallyId":"t3"')
  })
})
