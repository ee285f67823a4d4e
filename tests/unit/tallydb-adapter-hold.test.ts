/** Outgoing messages of a document wait while a local change of it goes to disk, then leave in order. */
import { describe, expect, it } from 'vitest'
import { OutboundHold } from '../../main/tallydb/adapter-hold.ts'

describe('OutboundHold', () => {
  it('holds one document’s messages until the last of its nested holds is released; others pass', () => {
    const sent: string[] = []
    const hold = new OutboundHold<string>((m) => sent.push(m))
    const send = (doc: string, m: string): void => {
      if (!hold.keep(doc, m)) sent.push(m)
    }
    const outer = hold.hold('d1')
    const inner = hold.hold('d1')
    send('d1', 'a')
    send('d2', 'x')
    send('d1', 'b')
    inner()
    inner() // a second release of the same hold changes nothing
    expect(sent).toEqual(['x'])
    outer()
    expect(sent).toEqual(['x', 'a', 'b'])
    send('d1', 'c')
    expect(sent).toEqual(['x', 'a', 'b', 'c'])
  })
})
