/** The connection guard's bookkeeping: per-IP keys and the heaviest-key index its eviction relies on. */
import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { ipKey, remoteHost } from '../../main/node/ip-key.ts'
import { LoadIndex } from '../../main/node/load-index.ts'

describe('ipKey', () => {
  it('keys IPv4 by address, IPv6 by /64, and IPv4-mapped IPv6 as IPv4', () => {
    expect(ipKey('203.0.113.7')).toBe('203.0.113.7')
    expect(ipKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64')
    expect(ipKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64')
    expect(ipKey('2001:0db8::1')).toBe('2001:db8:0:0::/64')
    expect(ipKey('::1')).toBe('0:0:0:0::/64')
    expect(ipKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(ipKey('::ffff:198.51.100.4')).toBe('198.51.100.4')
  })

  it('reads the remote host of an IP multiaddr, and none of a non-IP one', () => {
    expect(remoteHost(multiaddr('/ip4/127.0.0.2/tcp/4001'))).toBe('127.0.0.2')
    expect(remoteHost(multiaddr('/ip6/::1/tcp/4001'))).toBe('::1')
    expect(remoteHost(multiaddr('/unix/%2Ftmp%2Fsock'))).toBeUndefined()
  })
})

describe('LoadIndex', () => {
  it('follows the heaviest key through increments and decrements', () => {
    const index = new LoadIndex<string>()
    expect([...index.heaviest()]).toEqual([])
    index.increment('a')
    index.increment('b')
    index.increment('b')
    expect([...index.heaviest()]).toEqual(['b'])
    index.increment('a')
    expect(new Set(index.heaviest())).toEqual(new Set(['a', 'b']))
    index.decrement('b')
    index.decrement('b')
    expect([...index.heaviest()]).toEqual(['a'])
    expect(index.get('b')).toBe(0)
    index.decrement('a')
    index.decrement('a')
    index.decrement('a')
    expect([...index.heaviest()]).toEqual([])
    expect(index.get('a')).toBe(0)
  })
})
