import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { dialTarget, formatLink, linkPeerId, parseLink } from '../../main/bootstrap/link.ts'
import type { BootstrapLink } from '../../main/bootstrap/types.ts'

const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const addr = (port: number, id = peer): string => `/ip4/127.0.0.1/tcp/${port}/p2p/${id}`

describe('bootstrap link', () => {
  it('round-trips every field and stays compact', () => {
    const link: BootstrapLink = {
      token: 'AbC-_9.~xyz',
      role: 'stock',
      responderPeerAddrs: [addr(4001), `/ip6/::1/tcp/4002/p2p/${peer}`],
      tokenExpiryUtc: '2026-12-01T10:00:00.000Z',
      identityRequirements: ['email', 'name']
    }
    const text = formatLink(link)
    expect(text.startsWith('taleus:bootstrap?v=1&r=stock&t=AbC-_9.~xyz&a=/ip4/127.0.0.1/tcp/4001/p2p/')).toBe(
      true
    )
    expect(text).not.toContain('%2F')
    expect(parseLink(text)).toEqual(link)
    expect(linkPeerId(link)).toBe(peer)
    const minimal: BootstrapLink = { token: 'tok', role: 'foil', responderPeerAddrs: [addr(1)] }
    expect(parseLink(formatLink(minimal))).toEqual(minimal)
  })

  it('percent-encodes tokens with reserved characters', () => {
    const link: BootstrapLink = { token: 'a&b=c%d', role: 'foil', responderPeerAddrs: [addr(1)] }
    expect(parseLink(formatLink(link)).token).toBe('a&b=c%d')
  })

  const good = `taleus:bootstrap?v=1&r=stock&t=tok&a=${addr(1)}`
  it.each([
    ['another scheme', good.replace('taleus:', 'http:')],
    ['no version', good.replace('v=1&', '')],
    ['version 2', good.replace('v=1', 'v=2')],
    ['unknown role', good.replace('r=stock', 'r=both')],
    ['no token', good.replace('t=tok&', '')],
    ['empty token', good.replace('t=tok', 't=')],
    ['token with a space', good.replace('t=tok', 't=a%20b')],
    ['no address', good.replace(`&a=${addr(1)}`, '')],
    ['address without /p2p', good.replace(addr(1), '/ip4/127.0.0.1/tcp/1')],
    ['garbage address', good.replace(addr(1), 'not-an-addr')],
    ['two peers', `${good}&a=${addr(2, other)}`],
    ['unknown field', `${good}&z=1`],
    ['repeated field', `${good}&r=foil`],
    ['bad expiry', `${good}&x=tomorrow`],
    ['bad identity field', `${good}&i=e mail`],
    ['bad percent-encoding', `${good}&x=%E0%A4%A`],
    ['too long', `${good}&i=${'a'.repeat(3000)}`],
    ['malformed pair', `${good}&novalue`]
  ])('refuses %s with InvalidLinkError', (_name, text) => {
    expect(() => parseLink(text)).toThrow(expect.objectContaining({ name: 'InvalidLinkError' }))
  })

  it('never quotes the token in its errors', () => {
    try {
      parseLink(good.replace('t=tok', 't=secret%20token'))
      expect.unreachable()
    } catch (err) {
      expect((err as Error).message).not.toContain('secret')
    }
  })

  it('formatLink refuses an invalid link object', () => {
    expect(() => formatLink({ token: 'tok', role: 'stock', responderPeerAddrs: [] })).toThrow(
      expect.objectContaining({ name: 'InvalidLinkError' })
    )
    expect(() =>
      formatLink({ token: 'tok', role: 'stock', responderPeerAddrs: [addr(1), addr(2, other)] })
    ).toThrow(expect.objectContaining({ name: 'InvalidLinkError' }))
  })

  it('dialTarget takes the QR text or a link object, and names anything else InvalidLinkError', () => {
    const link: BootstrapLink = { token: 'tok', role: 'foil', responderPeerAddrs: [addr(7)] }
    expect(dialTarget(formatLink(link)).link).toEqual(link)
    expect(dialTarget(link).link).toBe(link)
    for (const bad of [
      undefined,
      null,
      {},
      42,
      { token: 'tok' },
      'https://example.com',
      { ...link, role: 'x' }
    ])
      expect(() => dialTarget(bad as BootstrapLink), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ name: 'InvalidLinkError' })
      )
  })

  it('dialTarget parses each address once, in order, with the peer they name, from text or object', () => {
    const link: BootstrapLink = {
      token: 'tok',
      role: 'stock',
      responderPeerAddrs: [addr(7), `/ip6/::1/tcp/8/p2p/${peer}`]
    }
    for (const given of [link, formatLink(link)]) {
      const target = dialTarget(given)
      expect(target.link).toEqual(link)
      expect(target.peerId).toBe(peer)
      expect(target.addrs.map(String)).toEqual(link.responderPeerAddrs)
    }
    expect(() => dialTarget({ ...link, responderPeerAddrs: [addr(7), addr(8, other)] })).toThrow(
      expect.objectContaining({ name: 'InvalidLinkError' })
    )
  })
})
