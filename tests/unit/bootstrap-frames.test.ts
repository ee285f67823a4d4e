import { describe, expect, it } from 'vitest'
import { lpStream, streamPair } from '@libp2p/utils'
import { FrameStream } from '../../main/bootstrap/frames.ts'
import { MAX_FRAME_BYTES } from '../../main/bootstrap/types.ts'

const opts = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(10_000) })

describe('FrameStream over an in-memory stream pair', () => {
  it('writes and reads validated messages in order', async () => {
    const [left, right] = await streamPair()
    const a = new FrameStream(left)
    const b = new FrameStream(right)
    await a.write({ type: 'Ack', ok: false, reason: 'busy' }, opts())
    await a.write({ type: 'Ack', ok: true }, opts())
    expect(await b.read(['Ack'], opts())).toEqual({ type: 'Ack', ok: false, reason: 'busy' })
    expect(await b.read(['Ack', 'DatabaseResult'], opts())).toEqual({ type: 'Ack', ok: true })
  })

  it('a message of another type than expected is a BadMessageError', async () => {
    const [left, right] = await streamPair()
    await new FrameStream(left).write({ type: 'Ack', ok: true }, opts())
    await expect(new FrameStream(right).read(['InboundContact'], opts())).rejects.toMatchObject({
      name: 'BadMessageError',
      reason: 'bad-message'
    })
  })

  it('an oversize length prefix is a BadMessageError before the body is read', async () => {
    const [left, right] = await streamPair()
    const raw = lpStream(left, { maxDataLength: MAX_FRAME_BYTES * 4 })
    await raw.write(new Uint8Array(MAX_FRAME_BYTES + 1))
    await expect(new FrameStream(right).read(['Ack'], opts())).rejects.toMatchObject({
      name: 'BadMessageError'
    })
  })

  it('readEnd: a clean close resolves, a reset is StreamClosedError, a further frame is BadMessageError', async () => {
    const [l1, r1] = await streamPair()
    await new FrameStream(l1).closeWrite(opts())
    await expect(new FrameStream(r1).readEnd(opts())).resolves.toBeUndefined()

    const [l2, r2] = await streamPair()
    const reader = new FrameStream(r2).readEnd(opts())
    l2.abort(new Error('gone'))
    await expect(reader).rejects.toMatchObject({ name: 'StreamClosedError' })

    const [l3, r3] = await streamPair()
    await new FrameStream(l3).write({ type: 'Ack', ok: true }, opts())
    await expect(new FrameStream(r3).readEnd(opts())).rejects.toMatchObject({ name: 'BadMessageError' })
  })

  it('a read whose signal aborts rejects with the abort, not a protocol error', async () => {
    const [, right] = await streamPair()
    const controller = new AbortController()
    const read = new FrameStream(right).read(['Ack'], { signal: controller.signal })
    controller.abort(new Error('stop'))
    await expect(read).rejects.toBeDefined()
    await expect(read).rejects.not.toMatchObject({ name: 'BadMessageError' })
  })
})
