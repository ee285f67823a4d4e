/** The key a per-IP connection cap counts under: one IPv4 address, or one IPv6 /64 (a single host's share). */
import { getNetConfig, isNetworkAddress } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The remote host of `addr` as written (e.g. `127.0.0.1`, `::1`), or undefined for a non-IP address. */
export function remoteHost(addr: Multiaddr): string | undefined {
  if (!isNetworkAddress(addr)) return undefined
  const config = getNetConfig(addr)
  return config.type === 'ip4' || config.type === 'ip6' ? config.host : undefined
}

/**
 * The per-IP key of `host`: the IPv4 address itself (also when written IPv4-mapped, `::ffff:a.b.c.d`),
 * or the /64 prefix of an IPv6 address, since one subscriber usually holds a whole /64.
 */
export function ipKey(host: string): string {
  const bare = host.split('%')[0]!
  if (!bare.includes(':')) return bare
  const lastColon = bare.lastIndexOf(':')
  if (bare.includes('.')) return bare.slice(lastColon + 1)
  const [head, tail] = bare.split('::') as [string, string | undefined]
  const front = head === '' ? [] : head.split(':')
  const back = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups =
    tail === undefined
      ? front
      : [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back]
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`
}
