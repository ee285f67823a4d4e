import { describe, expect, it } from 'vitest'
import { warmDocumentEngine } from '../../main/tallydb/warm-up.ts'

describe('tallydb warm-up', () => {
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
