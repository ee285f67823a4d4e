/** Libraries' console output in `taleus serve`: off stdout, one bounded line each, at most so many a minute. */
import { afterEach, describe, expect, it } from 'vitest'
import { routeLibraryLog } from '../../main/service/library-log.ts'

describe('routeLibraryLog', () => {
  let undo: (() => void) | undefined
  afterEach(() => undo?.())

  it('writes one line of at most 300 characters per call, at most perMinute a minute, then says how many it held back', () => {
    const lines: string[] = []
    let now = 0
    undo = routeLibraryLog({ write: (l) => lines.push(l), perMinute: 3, now: () => now })
    console.log('error receiving message', { err: new Error('bad'), message: { data: 'x'.repeat(5000) } })
    expect(lines).toHaveLength(1)
    expect(lines[0]!.split('\n')).toHaveLength(2)
    expect(lines[0]!.length).toBeLessThan(340)
    for (let i = 0; i < 10; i++) console.warn('again', i)
    expect(lines).toHaveLength(3)
    now = 61_000
    console.error('later')
    expect(lines.slice(3)).toEqual([
      'taleus: (8 more library messages in the last minute were not shown)\n',
      'taleus: (library) later\n'
    ])
    undo()
    undo = undefined
    expect(console.log).not.toBe(undefined)
  })
})
