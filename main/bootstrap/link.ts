/**
 * BootstrapLink ⇄ its compact text form for QR codes:
 *
 *   taleus:bootstrap?v=1&r=<role>&t=<token>&a=<multiaddr>[&a=<multiaddr>…][&x=<expiry ISO>][&i=<field>,<field>…][&w=<seconds>]
 *
 * `w` (optional) is how long A's operator may take to approve B, in whole seconds: B waits that much
 * longer for A's response.
 *
 * Values are percent-encoded except `/` and `:` (legal in a URI query) so multiaddrs stay short.
 * Parsing is strict: unknown or repeated keys, a wrong version, or addresses naming different peers
 * are refused with an InvalidLinkError whose message can be shown to a user (it never quotes the token).
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { InvalidLinkError } from './errors.ts'
import { identityFields } from './identity-requirements.ts'
import type { BootstrapLink, PartyRole } from './types.ts'

/** Scheme and path every link starts with. */
export const LINK_PREFIX = 'taleus:bootstrap?'
/** Link format version written and accepted. */
export const LINK_VERSION = '1'
/** Longest link accepted (a QR code stays scannable well below this). */
export const MAX_LINK_LENGTH = 2048
/** Most responder addresses in one link. */
export const MAX_LINK_ADDRS = 8
/** Longest operator approval wait a link may announce (`w`), in seconds: one day. */
export const MAX_LINK_APPROVAL_SECONDS = 86_400

const TOKEN_PATTERN = /^[\x21-\x7e]{1,256}$/
const FIELD_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/
const SECONDS_PATTERN = /^[1-9]\d{0,5}$/
const EXPIRY_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/
const MAX_FIELDS = 16

function enc(value: string): string {
  return encodeURIComponent(value).replace(/%2F/gi, '/').replace(/%3A/gi, ':')
}

/** An address of a link, parsed: the multiaddr and the peer id it ends with (`/p2p/<id>`). */
function parseAddr(addr: string): { ma: Multiaddr; peer: string } | undefined {
  let ma
  try {
    ma = multiaddr(addr)
  } catch {
    return undefined
  }
  const components = ma.getComponents()
  const last = components[components.length - 1]
  return last?.name === 'p2p' && last.value !== undefined ? { ma, peer: last.value } : undefined
}

/** The link's addresses checked (all valid, all naming one peer) and parsed; that peer. */
function checkAddrs(addrs: readonly string[]): { peer: string; parsed: Multiaddr[] } {
  if (addrs.length === 0) throw new InvalidLinkError('The link has no address to reach the other party.')
  if (addrs.length > MAX_LINK_ADDRS) throw new InvalidLinkError('The link lists too many addresses.')
  let peer: string | undefined
  const parsed: Multiaddr[] = []
  for (const addr of addrs) {
    const one = parseAddr(addr)
    if (one === undefined)
      throw new InvalidLinkError('An address in the link is not a valid address ending in /p2p/<peer id>.')
    if (peer != null && one.peer !== peer)
      throw new InvalidLinkError('The addresses in the link name different peers.')
    peer = one.peer
    parsed.push(one.ma)
  }
  return { peer: peer as string, parsed }
}

function checkFields(fields: readonly string[]): void {
  if (fields.length > MAX_FIELDS || fields.some((f) => !FIELD_PATTERN.test(f))) {
    throw new InvalidLinkError('The link asks for identity fields that are not valid names.')
  }
}

function checkExpiry(expiry: string): void {
  if (!EXPIRY_PATTERN.test(expiry) || Number.isNaN(Date.parse(expiry))) {
    throw new InvalidLinkError('The link has an invalid expiry date.')
  }
}

function checkToken(token: string): void {
  if (!TOKEN_PATTERN.test(token)) throw new InvalidLinkError('The link has a missing or malformed token.')
}

/** Encodes a link as its compact URI; throws InvalidLinkError when the link itself is invalid. */
export function formatLink(link: BootstrapLink): string {
  return encodeLink(link).text
}

/** formatLink's work, keeping what checking the addresses parsed. */
function encodeLink(link: BootstrapLink): { text: string; addrs: { peer: string; parsed: Multiaddr[] } } {
  checkToken(link.token)
  if (link.role !== 'stock' && link.role !== 'foil')
    throw new InvalidLinkError('The link has an unknown role.')
  const addrs = checkAddrs(link.responderPeerAddrs)
  const parts = [`v=${LINK_VERSION}`, `r=${link.role}`, `t=${enc(link.token)}`]
  for (const addr of link.responderPeerAddrs) parts.push(`a=${enc(addr)}`)
  if (link.tokenExpiryUtc != null) {
    checkExpiry(link.tokenExpiryUtc)
    parts.push(`x=${enc(link.tokenExpiryUtc)}`)
  }
  // the seed's `{ email: true }` form is written as the same list of field names
  const fields = identityFields(link.identityRequirements)
  if (fields === undefined)
    throw new InvalidLinkError('The link asks for identity fields that are not valid names.')
  if (fields.length > 0) {
    checkFields(fields)
    parts.push(`i=${fields.map(enc).join(',')}`)
  }
  if (link.approvalTimeoutMs != null) {
    const ms = link.approvalTimeoutMs
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0)
      throw new InvalidLinkError('The link has an invalid approval wait.')
    // rounded up so B never waits less than A's operator may take
    parts.push(`w=${Math.min(MAX_LINK_APPROVAL_SECONDS, Math.ceil(ms / 1000))}`)
  }
  const text = LINK_PREFIX + parts.join('&')
  if (text.length > MAX_LINK_LENGTH) throw new InvalidLinkError('The link is too long.')
  return { text, addrs }
}

/** Parses a compact link URI strictly; throws InvalidLinkError with a user-readable message. */
export function parseLink(text: string): BootstrapLink {
  return decodeLink(text).link
}

/** parseLink's work, keeping what checking the addresses parsed. */
function decodeLink(text: string): { link: BootstrapLink; addrs: { peer: string; parsed: Multiaddr[] } } {
  if (typeof text !== 'string') throw new InvalidLinkError('The link is not text.')
  const trimmed = text.trim()
  if (trimmed.length > MAX_LINK_LENGTH) throw new InvalidLinkError('The link is too long.')
  if (!trimmed.startsWith(LINK_PREFIX)) throw new InvalidLinkError('This is not a Taleus bootstrap link.')
  const single = new Map<string, string>()
  const addrs: string[] = []
  for (const pair of trimmed.slice(LINK_PREFIX.length).split('&')) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new InvalidLinkError('The link is malformed.')
    const key = pair.slice(0, eq)
    let value: string
    try {
      value = decodeURIComponent(pair.slice(eq + 1))
    } catch {
      throw new InvalidLinkError('The link is malformed.')
    }
    if (key === 'a') {
      addrs.push(value)
    } else if (key === 'v' || key === 'r' || key === 't' || key === 'x' || key === 'i' || key === 'w') {
      if (single.has(key)) throw new InvalidLinkError('The link repeats a field.')
      single.set(key, value)
    } else {
      throw new InvalidLinkError('The link has an unknown field.')
    }
  }
  if (single.get('v') !== LINK_VERSION) throw new InvalidLinkError('The link is of an unsupported version.')
  const role = single.get('r')
  if (role !== 'stock' && role !== 'foil')
    throw new InvalidLinkError('The link has a missing or unknown role.')
  const token = single.get('t') ?? ''
  checkToken(token)
  const checked = checkAddrs(addrs)
  const link: BootstrapLink = { token, responderPeerAddrs: addrs, role: role as PartyRole }
  const expiry = single.get('x')
  if (expiry != null) {
    checkExpiry(expiry)
    link.tokenExpiryUtc = expiry
  }
  const fields = single.get('i')
  if (fields != null) {
    const list = fields.split(',')
    checkFields(list)
    link.identityRequirements = list
  }
  const wait = single.get('w')
  if (wait != null) {
    if (!SECONDS_PATTERN.test(wait) || Number(wait) > MAX_LINK_APPROVAL_SECONDS)
      throw new InvalidLinkError('The link has an invalid approval wait.')
    link.approvalTimeoutMs = Number(wait) * 1000
  }
  return { link, addrs: checked }
}

/** A link checked for dialling, with its responder's peer id and its addresses parsed once. */
export interface DialTarget {
  link: BootstrapLink
  /** The responder's peer id, named by every address. */
  peerId: string
  /** link.responderPeerAddrs as multiaddrs, in order. */
  addrs: Multiaddr[]
}

/**
 * The link to dial: its text (a QR's content) parsed, or a BootstrapLink checked as formatLink checks it;
 * InvalidLinkError (with words for a user) for anything else. Each address is parsed once, here: a dial
 * used to parse them three times (check, peer id, dial), the largest share of what a wallet's session
 * allocated beyond a bare dial (docs/performance.md).
 */
export function dialTarget(link: BootstrapLink | string): DialTarget {
  if (typeof link === 'string') {
    const decoded = decodeLink(link)
    return { link: decoded.link, peerId: decoded.addrs.peer, addrs: decoded.addrs.parsed }
  }
  const shaped = link as Partial<BootstrapLink> | null
  if (
    typeof shaped !== 'object' ||
    shaped === null ||
    typeof shaped.token !== 'string' ||
    !Array.isArray(shaped.responderPeerAddrs)
  )
    throw new InvalidLinkError('This is not a Taleus bootstrap link.')
  const { addrs } = encodeLink(link)
  return { link, peerId: addrs.peer, addrs: addrs.parsed }
}

/** The responder's peer id named by the link's addresses (all name the same one). */
export function linkPeerId(link: BootstrapLink): string {
  return checkAddrs(link.responderPeerAddrs).peer
}
