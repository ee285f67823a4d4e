/**
 * The ledger's write-ahead on real files: a tally's first line never reaches the disk before a record of
 * its session does. A listener's draft is held in memory: its first line, and that flush, come when it
 * settles.
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

  it("a held draft writes nothing; its confirmation flushes the trail, then writes the tally's first line", async () => {
    // a slow flush: the first line must wait for it to end, not only for it to begin
    const realFlush = audit.flush.bind(audit)
    const realPut = tallies.put.bind(tallies)
    let flushed = false
    let flushedBeforePut: boolean | undefined
    const flush = vi.spyOn(audit, 'flush').mockImplementation(async () => {
      await new Promise((resolve) => setTimeout(resolve, 30))
      await realFlush()
      flushed = true
    })
    const put = vi.spyOn(tallies, 'put').mockImplementation(async (records) => {
      flushedBeforePut ??= flushed
      return realPut(records)
    })
    audit.append({
      sessionId: 's1',
      direction: 'inbound',
      state: 'L_PROCESS_CONTACT',
      previousState: null,
      at: 1,
      peerId: 'peer-B'
    })
    await ledger.record(draft('t1', 's1'))
    expect(flush).not.toHaveBeenCalled()
    expect(put).not.toHaveBeenCalled()
    expect(await onDisk('tallies.jsonl')).not.toContain('t1')
    expect(await onDisk('audit.jsonl')).not.toContain('"sessionId":"s1"')

    await ledger.settle('t1', 'confirmed')
    expect(flushedBeforePut).toBe(true)
    expect(await onDisk('audit.jsonl')).toContain('"sessionId":"s1"')
    expect(await onDisk('tallies.jsonl')).toContain('"tallyId":"t1"')
    expect(tallies.get('t1')?.status).toBe('confirmed')
  })

  it('a flush that fails does not stop the first line (the trail never fails a session)', async () => {
    vi.spyOn(audit, 'flush').mockRejectedValueOnce(new Error('disk full for a moment'))
    await ledger.record(draft('t2', 's2'))
    await ledger.settle('t2', 'confirmed')
    expect(await onDisk('tallies.jsonl')).toContain('"tallyId":"t2"')
  })

  it('a draft we dialled is written at once, after a flush of the trail', async () => {
    const flush = vi.spyOn(audit, 'flush')
    audit.append({
      sessionId: 's3',
      direction: 'outbound',
      state: 'D_SEND_CONTACT',
      previousState: null,
      at: 1,
      peerId: 'peer-B'
    })
    await ledger.record({ ...draft('t3', 's3'), direction: 'outbound' })
    expect(flush).toHaveBeenCalledTimes(1)
    expect(await onDisk('audit.jsonl')).toContain('"sessionId":"s3"')
    expect(await onDisk('tallies.jsonl')).toContain('"tallyId":"t3"')
  })
})
