/** The CLI's option parsers: good values parse, bad ones throw UsageError (exit code 2). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { readDialLink } from '../../main/cli/dial.ts'
import {
  parseDuration,
  parseFieldList,
  parseIdentity,
  parseLinkSource,
  parseLinkText,
  parseListenAddr,
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
    expect(parseListenAddr('/ip4/0.0.0.0/tcp/4001')).toBe('/ip4/0.0.0.0/tcp/4001')
    expect(parseListenAddr(' /ip6/::/tcp/0 ')).toBe('/ip6/::/tcp/0')
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
    ['sessions text', () => parseMaxSessions('lots')],
    ['listen address without a slash', () => parseListenAddr('garbage')],
    ['listen port that is no number', () => parseListenAddr('/ip4/1.2.3.4/tcp/abc')],
    ['listen address of another transport', () => parseListenAddr('/ip4/1.2.3.4/udp/4001/quic-v1')],
    ['listen address without a port', () => parseListenAddr('/ip4/1.2.3.4')],
    ['listen address with a peer id', () => parseListenAddr('/ip4/1.2.3.4/tcp/1/p2p/12D3KooWxyz')]
  ])('refuses a bad %s with UsageError', (_what, fn) => {
    const err = usageError(fn)
    expect(err.name).toBe('UsageError')
    expect(err.exitCode).toBe(2)
  })
})

describe('where taleus dial reads its link', () => {
  const LINK = 'taleus://bootstrap?t=secret-token-value&r=stock'

  it('"-" and --link-file - mean stdin, --link-file F a file, anything else the arguments', () => {
    expect(parseLinkSource('-', undefined)).toEqual({ from: 'stdin' })
    expect(parseLinkSource(undefined, '-')).toEqual({ from: 'stdin' })
    expect(parseLinkSource(undefined, 'link.txt')).toEqual({ from: 'file', path: 'link.txt' })
    expect(parseLinkSource(LINK, undefined)).toEqual({ from: 'argv', link: LINK })
  })

  it.each([
    ['no link at all', () => parseLinkSource(undefined, undefined)],
    ['a link and --link-file', () => parseLinkSource(LINK, 'link.txt')],
    ['an empty --link-file', () => parseLinkSource(undefined, '')],
    ['empty input', () => parseLinkText(' \n\n')],
    ['two links', () => parseLinkText(`${LINK}\n${LINK}\n`)]
  ])('refuses %s with UsageError', (_what, fn) => {
    const err = usageError(fn)
    expect(err.name).toBe('UsageError')
    expect(err.exitCode).toBe(2)
  })

  it('reads the one link from stdin or a file, trimmed, and never quotes it in an error', async () => {
    expect(await readDialLink({ from: 'stdin' }, Readable.from([Buffer.from(`  ${LINK}\r\n`)]))).toBe(LINK)
    const dir = await mkdtemp(join(tmpdir(), 'taleus-link-file-'))
    try {
      await writeFile(join(dir, 'link.txt'), `${LINK}\n`, { mode: 0o600 })
      expect(await readDialLink({ from: 'file', path: join(dir, 'link.txt') })).toBe(LINK)
      const missing = await readDialLink({ from: 'file', path: join(dir, 'none.txt') }).catch(
        (e: unknown) => e
      )
      expect(missing).toMatchObject({ name: 'UsageError', exitCode: 2 })
      const huge = await readDialLink({ from: 'stdin' }, Readable.from([Buffer.alloc(64 * 1024, 'a')])).catch(
        (e: unknown) => e
      )
      expect(huge).toMatchObject({ name: 'UsageError', exitCode: 2 })
      await writeFile(join(dir, 'two.txt'), `${LINK}\n${LINK}\n`)
      const two = await readDialLink({ from: 'file', path: join(dir, 'two.txt') }).catch((e: unknown) => e)
      expect(two).toMatchObject({ name: 'UsageError' })
      expect(String((two as Error).message)).not.toContain('secret-token-value')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
