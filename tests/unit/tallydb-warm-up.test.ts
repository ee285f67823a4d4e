import { describe, expect, it } from 'vitest'
import { warmDocumentEngine } from '../../main/tallydb/warm-up.ts'

describe('tallydb warm-up', () => {
  // first: a finished warm-up is kept for the whole process
  it('a warm-up scheduled for later ends as soon as it is aborted, without starting', async () => {
    const controller = new AbortController()
    const scheduled = warmDocumentEngine(controller.signal, 3_600_000)
    // joined, not started twice
    expect(warmDocumentEngine(undefined, 0)).toBe(scheduled)
    controller.abort()
    await scheduled
    // forgotten once aborted: the next call is a new warm-up
    expect(warmDocumentEngine(controller.signal)).not.toBe(scheduled)
  }, 30_000)

  it('stops at once when aborted, and runs again afterwards', async () => {
    const controller = new AbortController()
    controller.abort()
    await warmDocumentEngine(controller.signal)
    // an aborted warm-up is forgotten: the next call starts one of its own
    const warming = warmDocumentEngine()
    expect(warmDocumentEngine()).toBe(warming)
    await warming
  }, 120_000)
})
