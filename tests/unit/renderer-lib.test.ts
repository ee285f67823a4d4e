/** Pure helpers of the renderer and the Electron sender check (no DOM, no Electron needed). */
import { describe, expect, it } from 'vitest'
import { REASON_CODES } from '../../main/bootstrap/types.ts'
import { isTrustedRendererUrl } from '../../main/electron/trusted-url.ts'
import { ApiCallError, toApiCallError } from '../../renderer/src/lib/api-error.ts'
import { toCsv } from '../../main/views/export-columns.ts'
import { formatClock, formatCountdown, formatDuration, shortPeer } from '../../renderer/src/lib/format.ts'
import { describeError, describeReason, REASON_WORDS } from '../../renderer/src/lib/reasons.ts'
import { STATES, stateKind } from '../../renderer/src/lib/states.ts'
import { parseSse } from '../../renderer/src/lib/web-bridge.ts'

describe('parseSse', () => {
  it('returns complete data payloads and keeps the unfinished rest', () => {
    const { payloads, rest } = parseSse('data: [1]\n\n: keep-alive\n\ndata: [2]\n\ndata: [3')
    expect(payloads).toEqual(['[1]', '[2]'])
    expect(rest).toBe('data: [3')
    expect(parseSse(rest + ']\n\n').payloads).toEqual(['[3]'])
  })

  it('joins multi-line data and accepts CRLF and no space after the colon', () => {
    expect(parseSse('data:[1,\r\ndata: 2]\r\n\r\n').payloads).toEqual(['[1,\n2]'])
  })
})

describe('isTrustedRendererUrl', () => {
  const built = 'file:///opt/taleus/out/renderer/index.html'
  it('accepts our file with any fragment or query, and the dev server origin', () => {
    expect(isTrustedRendererUrl(built, built)).toBe(true)
    expect(isTrustedRendererUrl(`${built}#/x?y=1`, built)).toBe(true)
    expect(isTrustedRendererUrl('http://localhost:5173/some/page', 'http://localhost:5173/')).toBe(true)
  })

  it('refuses other files, other origins, blank and garbage', () => {
    expect(isTrustedRendererUrl('file:///tmp/evil/index.html', built)).toBe(false)
    expect(isTrustedRendererUrl('file:///opt/taleus/out/renderer/other.html', built)).toBe(false)
    expect(isTrustedRendererUrl('https://example.com/', built)).toBe(false)
    expect(isTrustedRendererUrl('about:blank', built)).toBe(false)
    expect(isTrustedRendererUrl('', built)).toBe(false)
    expect(isTrustedRendererUrl(undefined, built)).toBe(false)
    expect(isTrustedRendererUrl('not a url', built)).toBe(false)
    expect(isTrustedRendererUrl('http://localhost:5174/', 'http://localhost:5173/')).toBe(false)
  })
})

describe('reasons', () => {
  it('has words for every reason code', () => {
    for (const code of REASON_CODES) expect(REASON_WORDS[code]).toMatch(/\.$/)
  })

  it('describes API codes, unknown codes and bad input', () => {
    expect(describeReason('unreachable')).toMatch(/not answering/)
    expect(describeReason('something-new')).toBe('Something went wrong.')
    // the node's own words, without the schema path a user cannot read (issue G)
    const bad = describeError(new ApiCallError('bad-input', 'label: too long'))
    expect(bad).toContain('too long')
    expect(bad).not.toContain('label:')
  })

  it('turns a plain preload rejection back into an ApiCallError', () => {
    const err = toApiCallError({ name: 'ApiCallError', code: 'token-revoked', message: 'x' })
    expect(err).toBeInstanceOf(ApiCallError)
    expect(err.name).toBe('ApiCallError')
    expect(err.code).toBe('token-revoked')
    expect(toApiCallError(new Error('boom')).code).toBe('internal-error')
  })
})

describe('toCsv', () => {
  it('quotes every cell, doubles quotes and defuses formulas', () => {
    const csv = toCsv(
      [
        { a: 'x "y"', b: '=HYPERLINK("z")' },
        { a: 'plain', b: undefined }
      ],
      [
        { key: 'a', header: 'A', value: (r: { a: string; b?: string }) => r.a },
        { key: 'b', header: 'B', value: (r: { a: string; b?: string }) => r.b ?? '' }
      ]
    )
    expect(csv).toBe('"A","B"\r\n"x ""y""","\'=HYPERLINK(""z"")"\r\n"plain",""\r\n')
  })
})

describe('format and states', () => {
  it('formatClock puts the milliseconds inside the time, before a 12-hour clock’s AM/PM', () => {
    const text = formatClock(new Date(2026, 10, 30, 18, 41, 30, 317).getTime())
    expect(text).toMatch(/41:30\.317/)
    expect(text).not.toMatch(/[AP]M\.\d/)
  })

  it('formats durations, countdowns and peers', () => {
    expect(formatDuration(65_000)).toBe('1:05')
    expect(formatDuration(3_725_000)).toBe('1:02:05')
    expect(formatCountdown(1000, 2000)).toBe('expired')
    expect(formatCountdown(2 * 86_400_000 + 3 * 3_600_000 + 5, 0)).toBe('2d 3h')
    expect(formatCountdown(125_000, 0)).toBe('2m 05s')
    expect(shortPeer('12D3KooWabcdefghijklmnop')).toBe('…ijklmnop')
  })

  it('classifies every state', () => {
    const kinds = STATES.map(stateKind)
    expect(kinds.filter((k) => k === 'done')).toHaveLength(2)
    expect(kinds.filter((k) => k === 'failed')).toHaveLength(2)
    expect(kinds.filter((k) => k === 'timeout')).toHaveLength(2)
    expect(stateKind('L_AWAIT_ACK')).toBe('active')
  })
})
