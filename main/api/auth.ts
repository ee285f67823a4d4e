/** The local API's bearer secret: creation and a constant-time check. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** A fresh random secret (256 bits, URL-safe). */
export function createSecret(): string {
  return randomBytes(32).toString('base64url')
}

/** True when `authorization` is `Bearer <secret>`; compares digests so length and content leak nothing. */
export function checkBearer(authorization: string | undefined, secret: string): boolean {
  if (typeof authorization !== 'string' || !authorization.startsWith('Bearer ')) return false
  const given = createHash('sha256').update(authorization.slice(7)).digest()
  const expected = createHash('sha256').update(secret).digest()
  return timingSafeEqual(given, expected)
}

/** True for a loopback remote address (IPv4, IPv6 and IPv4-mapped IPv6). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false
  if (address === '::1') return true
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)
}
