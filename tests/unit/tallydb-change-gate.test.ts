/**
 * The gate in front of the repo: a refused peer's changes to the same document are refused unread for a
 * while (a forgery comes back with every sync), a sync message without changes is not judged, and a
 * counterparty's honest changes pass.
 */
import { describe, expect, it } from 'vitest'
import {
  change,
  clone,
  generateSyncMessage,
  getHeads,
  initSyncState,
  load,
  receiveSyncMessage
} from '@automerge/automerge'
import type { Doc } from '@automerge/automerge'
import { ChangeGate } from '../../main/tallydb/change-gate.ts'
import type { TallyIndexStore } from '../../main/tallydb/backend-types.ts'
import type { IndexEntry } from '../../main/tallydb/tally-index.ts'
import { newDocumentBytes } from '../helpers/legacy-document.ts'
import { acceptProposal, addProposal } from '../../main/tallydb/tally-document.ts'
import type { StoredTallyDoc } from '../../main/tallydb/tally-document.ts'
import { A, B, at, draftTally } from '../helpers/tally-parties.ts'

const entry = { tallyId: 't-1', documentId: 'doc', counterpartyPeerId: B, provisioner: true } as IndexEntry

/**
 * The sync message B sends A once B holds `theirs` and A holds `ours` (after A said what it has). A's
 * hello carries a Bloom filter of its changes, which names one of B's by mistake about once in a hundred:
 * B then leaves that change out (and a later one arrives without what it depends on), so the message is
 * checked to bring A all the way to B's heads.
 */
function syncFrom(theirs: Doc<StoredTallyDoc>, ours: Doc<StoredTallyDoc>): Uint8Array {
  const [, hello] = generateSyncMessage(ours, initSyncState())
  const [b, bState] = receiveSyncMessage(clone(theirs), initSyncState(), hello!)
  const [, message] = generateSyncMessage(b, bState)
  const [after] = receiveSyncMessage(clone(ours), initSyncState(), message!)
  if (getHeads(after).sort().join() !== getHeads(theirs).sort().join())
    throw new Error('the Bloom filter hid a change')
  return message!
}

/** `make(attempt)` again with the next attempt (changes made anew, other hashes) if the filter hid one. */
function retried(make: (attempt: number) => Uint8Array): Uint8Array {
  for (let attempt = 0; ; attempt++) {
    try {
      return make(attempt)
    } catch (err) {
      if (attempt > 5) throw err
    }
  }
}

/** syncFrom of the changes `fns` make on `ours`, one each. */
function syncOf(ours: Doc<StoredTallyDoc>, ...fns: Array<(d: StoredTallyDoc) => void>): Uint8Array {
  return retried((attempt) =>
    syncFrom(
      fns.reduce((d, fn) => change(d, { time: attempt }, fn), clone(ours)),
      ours
    )
  )
}

describe('ChangeGate', () => {
  it('refuses a forger unread for 30 s, then judges again; passes honest changes (taken: a refusal is behind) and does not judge an empty message', async () => {
    let now = 1_000_000
    const ours = load<StoredTallyDoc>(newDocumentBytes(draftTally(), { note: 'n' }, A, at))
    let loads = 0
    const refusals: string[] = []
    const taken: string[] = []
    const gate = new ChangeGate({
      index: { tallyOf: () => 't-1', get: () => entry } as unknown as TallyIndexStore,
      replica: async () => {
        loads++
        return ours
      },
      pending: async () => undefined,
      refused: (_t, _p, v) => refusals.push(v.reason),
      taken: (t) => taken.push(t),
      now: () => now
    })
    const message = syncOf(
      ours,
      (d) => addProposal(d, { proposalId: 'f', by: B, at, terms: { foilCreditLimit: 1e9 }, status: 'open' }),
      (d) => acceptProposal(d, 'f', A, at)
    )
    expect(await gate.vet('doc', message, B)).toBe(false)
    expect(loads).toBe(1)
    expect(await gate.vet('doc', message, B)).toBe(false)
    expect(loads).toBe(1) // refused unread
    now += 31_000
    expect(await gate.vet('doc', message, B)).toBe(false)
    expect(loads).toBe(2)
    expect(refusals).toHaveLength(2)
    expect(refusals[0]).toMatch(/this node's name/)

    // another document of the same peer is judged, and passes when honest
    const honestStep = (d: StoredTallyDoc): void =>
      addProposal(d, { proposalId: 'h', by: B, at, terms: { note: 'net 45' }, status: 'open' })
    expect(await gate.vet('doc2', syncOf(ours, honestStep), B)).toBe(true)
    expect(taken).toEqual(['t-1'])
    // a message that only says what the peer has is not judged (no replica loaded)
    const [, hello] = generateSyncMessage(ours, initSyncState())
    const before = loads
    expect(await gate.vet('doc3', hello!, B)).toBe(true)
    expect(loads).toBe(before)
    expect(taken).toHaveLength(1) // nothing taken: a refusal shown stays
    // and a peer that is not the tally's counterparty is refused
    expect(await gate.vet('doc', syncOf(ours, honestStep), A)).toBe(false)
  })
})
