/** Deadline.abort: one controller per listener session does for the deadline, the stop and "the peer left". */
import { describe, expect, it } from 'vitest'
import { Deadline } from '../../main/bootstrap/abort.ts'
import { StreamClosedError } from '../../main/bootstrap/errors.ts'

describe('Deadline.abort', () => {
  it('aborts the deadline signal with the given reason, at once', () => {
    const deadline = new Deadline(60_000)
    const reason = new StreamClosedError('the other party left')
    deadline.abort(reason)
    expect(deadline.signal.aborted).toBe(true)
    expect(deadline.signal.reason).toBe(reason)
    deadline.clear()
  })

  it('keeps the first reason: a later abort, the timer or a followed signal change nothing', async () => {
    const deadline = new Deadline(1)
    const stop = new AbortController()
    deadline.follow(stop.signal)
    const first = new StreamClosedError('the other party left')
    deadline.abort(first)
    deadline.abort(new Error('second'))
    stop.abort(new Error('stop'))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(deadline.signal.reason).toBe(first)
    deadline.clear()
  })
})
