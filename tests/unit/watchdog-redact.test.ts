/** The test watchdog prints the process tree into CI logs: a store URL's password and a link's token never. */
import { describe, expect, it } from 'vitest'
import { redact } from '../watchdog-reporter.ts'

describe('watchdog redaction', () => {
  it('blanks a URL password and a link token, and leaves the rest of the line', () => {
    const line =
      'node cli.js serve --store postgres://taleus_test:s3cr3t@127.0.0.1:5432/db dial ' +
      "'taleus:bootstrap?v=1&r=stock&t=Zm9vYmFyYmF6&a=/ip4/127.0.0.1/tcp/1'"
    const out = redact(line)
    expect(out).not.toContain('s3cr3t')
    expect(out).not.toContain('Zm9vYmFyYmF6')
    expect(out).toContain('postgres://taleus_test:***@127.0.0.1:5432/db')
    expect(out).toContain('&r=stock&t=***&a=/ip4/127.0.0.1/tcp/1')
    expect(redact('node bench/run.js --perf')).toBe('node bench/run.js --perf')
  })
})
