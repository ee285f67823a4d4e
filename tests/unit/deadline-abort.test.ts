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

describe('Deadline.step', () => {
  const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

  it('aborts with TimeoutError when the running step outlasts its time', async () => {
    const deadline = new Deadline(60_000)
    deadline.step(5, 'the read ran out of time')
    await tick(40)
    expect(deadline.signal.aborted).toBe(true)
    expect(deadline.signal.reason).toMatchObject({
      name: 'TimeoutError',
      message: 'the read ran out of time'
    })
    deadline.clear()
  })

  it('a step that ended in time aborts nothing, though the steps share one timer', async () => {
    const deadline = new Deadline(60_000)
    for (let i = 0; i < 3; i++) deadline.step(5)()
    await tick(40)
    expect(deadline.signal.aborted).toBe(false)
    // the shared timer fired disarmed: the next step is timed from its own start
    const end = deadline.step(5)
    await tick(40)
    expect(deadline.signal.reason).toMatchObject({ name: 'TimeoutError' })
    end()
    deadline.clear()
  })

  it('each step gets its whole time: an ended step’s clear does not disarm the next one', async () => {
    const deadline = new Deadline(60_000)
    const endFirst = deadline.step(30)
    await tick(20)
    deadline.step(30)
    endFirst() // late, e.g. a finally that ran after the next step began
    await tick(20)
    // 40 ms after the first step began: its timer was restarted for the second step
    expect(deadline.signal.aborted).toBe(false)
    await tick(40)
    expect(deadline.signal.reason).toMatchObject({ name: 'TimeoutError' })
    deadline.clear()
  })

  it('a step with another time or message gets it, and clear() stops the timer', async () => {
    const deadline = new Deadline(60_000)
    deadline.step(10_000)()
    deadline.step(5, 'the approval ran out of time')
    await tick(40)
    expect(deadline.signal.reason).toMatchObject({ message: 'the approval ran out of time' })

    const cleared = new Deadline(60_000)
    cleared.step(5)
    cleared.clear()
    await tick(40)
    expect(cleared.signal.aborted).toBe(false)
  })
})
