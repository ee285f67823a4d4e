/** Parsers of the CLI's option values; each throws UsageError with a one-line explanation. */
import type { IdentityBundle, TokenUses } from '../views/console-views.ts'
import { CommanderError } from 'commander'
import { multiaddr } from '@multiformats/multiaddr'
import { UsageError } from './cli-error.ts'

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `15m`, `2h`, `1d`, `30s` → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(text.trim())
  if (match === null) throw new UsageError(`--expires must look like 30s, 15m, 2h or 1d (got "${text}")`)
  const ms = Number(match[1]) * (UNIT_MS[match[2] as string] ?? 0)
  if (ms < 1000) throw new UsageError('--expires must be at least 1s')
  return ms
}

/** `1`, `N` or `unlimited`. */
export function parseUses(text: string): TokenUses {
  if (text === 'unlimited') return 'unlimited'
  if (!/^[1-9]\d{0,8}$/.test(text))
    throw new UsageError(`--uses must be a whole number ≥ 1 or "unlimited" (got "${text}")`)
  return Number(text)
}

/** `email,name` → ['email', 'name']. */
export function parseFieldList(text: string): string[] {
  const fields = text
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '')
  for (const field of fields) {
    if (!/^[a-zA-Z][a-zA-Z0-9_-]{0,31}$/.test(field))
      throw new UsageError(`"${field}" is not a valid identity field name`)
  }
  return [...new Set(fields)]
}

/** `email=a@b,name=Bo` → { email: 'a@b', name: 'Bo' }. */
export function parseIdentity(text: string): IdentityBundle {
  const bundle: IdentityBundle = Object.create(null) as IdentityBundle
  for (const part of text.split(',')) {
    if (part.trim() === '') continue
    const eq = part.indexOf('=')
    const key = (eq < 0 ? part : part.slice(0, eq)).trim()
    if (eq < 0 || !/^[a-zA-Z][a-zA-Z0-9_-]{0,31}$/.test(key)) {
      throw new UsageError('--identity must look like email=a@b.c,name=Bo')
    }
    bundle[key] = part.slice(eq + 1).trim()
  }
  return { ...bundle }
}

/** A TCP port 0–65535. */
export function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535)
    throw new UsageError(`--api-port must be a port number (got "${text}")`)
  return Number(text)
}

/**
 * `--listen`: an address this node can listen on, /ip4/… or /ip6/… then /tcp/PORT (the node runs TCP
 * only); libp2p's own errors for anything else name a class, not the option.
 */
export function parseListenAddr(text: string): string {
  let names: string[] = []
  try {
    names = multiaddr(text.trim())
      .getComponents()
      .map((c) => c.name)
  } catch {
    names = []
  }
  if (names.length !== 2 || (names[0] !== 'ip4' && names[0] !== 'ip6') || names[1] !== 'tcp')
    throw new UsageError(`--listen must be a TCP address like /ip4/0.0.0.0/tcp/4001 (got "${text}")`)
  return text.trim()
}

/** A whole number of concurrent sessions, 1–100 000. */
export function parseMaxSessions(text: string): number {
  if (!/^\d{1,6}$/.test(text) || Number(text) < 1 || Number(text) > 100_000)
    throw new UsageError(`--max-sessions must be a whole number from 1 to 100000 (got "${text}")`)
  return Number(text)
}

/** Tallies one public token may confirm at once (then one a second), 1–10 000 000. */
export function parseTallyBurst(text: string): number {
  if (!/^\d{1,8}$/.test(text) || Number(text) < 1 || Number(text) > 10_000_000)
    throw new UsageError(`--token-tally-burst must be a whole number from 1 to 10000000 (got "${text}")`)
  return Number(text)
}

/** A postgres:// (or postgresql://) URL of a cadre store; never quoted back (it may hold a password). */
export function parseStoreUrl(text: string): string {
  let ok = false
  try {
    const url = new URL(text)
    ok = (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== ''
  } catch {
    ok = false
  }
  if (!ok) throw new UsageError('--store must be a postgres://user@host/database URL')
  return text
}

/** Where `taleus dial` takes its link from: the arguments (seen by `ps`), stdin, or a file. */
export type LinkSource = { from: 'argv'; link: string } | { from: 'stdin' } | { from: 'file'; path: string }

/** The most a link file or stdin may hold: a link is a few hundred bytes (QR codes cap it anyway). */
export const MAX_LINK_BYTES = 16 * 1024

/** `taleus dial [LINK|-] [--link-file FILE]` → where to read the link; exactly one source. */
export function parseLinkSource(arg: string | undefined, linkFile: string | undefined): LinkSource {
  if (arg !== undefined && linkFile !== undefined) {
    throw new UsageError('give the link as an argument or with --link-file, not both')
  }
  if (linkFile !== undefined) {
    if (linkFile === '') throw new UsageError('--link-file needs a file name ("-" for stdin)')
    return linkFile === '-' ? { from: 'stdin' } : { from: 'file', path: linkFile }
  }
  if (arg === undefined || arg === '') {
    throw new UsageError('no link: pass it on stdin with "taleus dial -" or with --link-file FILE')
  }
  return arg === '-' ? { from: 'stdin' } : { from: 'argv', link: arg }
}

/** The link in text read from stdin or a file: its one non-empty line, trimmed (never quoted in errors). */
export function parseLinkText(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
  if (lines.length !== 1) {
    throw new UsageError(
      lines.length === 0 ? 'no link in the input' : 'the input must hold one link on one line'
    )
  }
  return lines[0] as string
}

/** `--limit`: a page size from 1 to 5000. */
export function parseLimit(text: string): number {
  if (!/^[1-9]\d{0,3}$/.test(text) || Number(text) > 5000)
    throw new UsageError(`--limit must be a whole number from 1 to 5000 (got "${text}")`)
  return Number(text)
}

/** `--before`: an epoch ms cursor (a tally's createdAt). */
export function parseEpochMs(text: string): number {
  if (!/^\d{1,16}$/.test(text)) throw new UsageError(`--before must be epoch milliseconds (got "${text}")`)
  return Number(text)
}

/** A credit limit: a non-negative number. */
export function parseAmount(text: string): number {
  if (!/^\d{1,15}(\.\d{1,8})?$/.test(text))
    throw new UsageError(`a limit must be a number ≥ 0 (got "${text}")`)
  return Number(text)
}

/** Commander calls parsers synchronously; turn our UsageError into its own invalid-argument error. */
export function wrap<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text)
    } catch (err) {
      if (err instanceof UsageError) throw new CommanderError(2, 'taleus.invalidArgument', err.message)
      throw err
    }
  }
}
