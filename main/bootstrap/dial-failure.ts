/**
 * Why no responder address of a link could be dialled, in words a customer can act on: nothing listens
 * there, no answer in time, the node there closed the connection (busy?), another node answers, or the node
 * does not speak the bootstrap. libp2p's own messages name its internals ("Unexpected EOF - stream closed
 * while reading 0/1 bytes").
 */
import { DialFailedError } from './errors.ts'

/** At most this many addresses are named in the message (a link may carry 16). */
const NAMED = 3

/** What went wrong at one address, in a few words. */
export function dialFailureWords(err: unknown): string {
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null
  const name = typeof e?.name === 'string' ? e.name : ''
  const code = typeof e?.code === 'string' ? e.code : ''
  const message = typeof e?.message === 'string' ? e.message : ''
  if (code === 'ECONNREFUSED') return 'nothing is listening there'
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL')
    return 'this network cannot reach that address'
  if (name === 'TimeoutError' || code === 'ETIMEDOUT') return 'no answer in time'
  if (name === 'UnsupportedProtocolError') return 'the node there does not speak the Taleus bootstrap'
  if (/does not match expected remote identity/.test(message))
    return 'another node answers there, not the one the link names'
  if (name === 'EncryptionFailedError' || code === 'ECONNRESET' || /EOF|closed|reset/i.test(message))
    return 'the node there closed the connection while it was being set up (it may be busy: try again)'
  return name !== '' ? name : 'failed'
}

/** The DialFailedError for a dial whose every address failed (`failures` in the order they were tried). */
export function dialFailed(failures: Array<{ addr: string; error: unknown }>): DialFailedError {
  const named = failures
    .slice(0, NAMED)
    .map(({ addr, error }) => `${addr.split('/p2p/')[0]}: ${dialFailureWords(error)}`)
  const more = failures.length > NAMED ? `; and ${failures.length - NAMED} more addresses` : ''
  const message =
    failures.length === 0
      ? 'could not reach the other party: the link has no address'
      : `could not reach the other party (${named.join('; ')}${more})`
  return new DialFailedError(message, {
    cause: new AggregateError(
      failures.map((f) => f.error),
      'every address of the link failed'
    )
  })
}
