/** The CLI's one failure line: the store's worded failures without their class name, others with it. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { UsageError } from '../../main/cli/cli-error.ts'
import { reportError } from '../../main/cli/report-error.ts'
import { ListenError } from '../../main/service/listen-port.ts'
import { StoreLockedError } from '../../main/store/errors.ts'

describe('reportError', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  function report(err: unknown): { code: number; lines: string[] } {
    const lines: string[] = []
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk))
      return true
    })
    const code = reportError(err)
    vi.restoreAllMocks()
    return { code, lines }
  }

  it('a folder in use: its words alone, exit 1', () => {
    const { code, lines } = report(new StoreLockedError('/data/.lock', 4242))
    expect(code).toBe(1)
    expect(lines).toEqual([expect.stringMatching(/^taleus: data folder is in use by process 4242 /)])
  })

  it('a listen address the node cannot use: its words alone (they say what to do)', () => {
    const { lines } = report(
      new ListenError('could not listen on /ip4/127.0.0.1/tcp/1: choose another --listen')
    )
    expect(lines).toEqual(['taleus: could not listen on /ip4/127.0.0.1/tcp/1: choose another --listen\n'])
  })

  it('an error of unknown kind keeps its name; bad arguments exit 2', () => {
    expect(report(new TypeError('x is not a function')).lines).toEqual([
      'taleus: TypeError: x is not a function\n'
    ])
    expect(report(new UsageError('--limit must be a whole number')).code).toBe(2)
  })
})
