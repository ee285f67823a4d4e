/** The CLI's option parsers: good values parse, bad ones throw UsageError (exit code 2). */
import { describe, expect, it } from 'vitest'
import {
  parseDuration,
  parseFieldList,
  parseIdentity,
  parseMaxSessions,
  parsePort,
  parseUses
} from '../../main/cli/parse-args.ts'

function usageError(fn: () => unknown): { name: string; exitCode: number } {
  try {
    fn()
  } catch (err) {
    return err as { name: string; exitCode: number }
  }
  throw new Error('expected a UsageError')
}

describe('CLI option parsers', () => {
  it('parses durations, uses, fields, identities, ports and session caps', () => {
    expect(parseDuration('30s')).toBe(30_000)
    expect(parseDuration('15m')).toBe(900_000)
    expect(parseDuration('2h')).toBe(7_200_000)
    expect(parseDuration('1d')).toBe(86_400_000)
    expect(parseUses('1')).toBe(1)
    expect(parseUses('25')).toBe(25)
    expect(parseUses('unlimited')).toBe('unlimited')
    expect(parseFieldList('email, name,email')).toEqual(['email', 'name'])
    expect(parseIdentity('email=ann@example.com,name=Ann Lee')).toEqual({
      email: 'ann@example.com',
      name: 'Ann Lee'
    })
    expect(parsePort('0')).toBe(0)
    expect(parseMaxSessions('1000')).toBe(1000)
  })

  it.each([
    ['duration', () => parseDuration('15 minutes')],
    ['zero duration', () => parseDuration('0s')],
    ['uses 0', () => parseUses('0')],
    ['uses text', () => parseUses('many')],
    ['field name', () => parseFieldList('e mail')],
    ['identity without =', () => parseIdentity('ann@example.com')],
    ['identity __proto__-like key', () => parseIdentity('1x=a')],
    ['port too big', () => parsePort('70000')],
    ['sessions 0', () => parseMaxSessions('0')],
    ['sessions text', () => parseMaxSessions('lots')]
  ])('refuses a bad %s with UsageError', (_what, fn) => {
    const err = usageError(fn)
    expect(err.name).toBe('UsageError')
    expect(err.exitCode).toBe(2)
  })
})
