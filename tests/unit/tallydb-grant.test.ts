/** The tally database's grant: derived, checked in constant time, with one spelling only. */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { deriveGrant, verifyGrant } from '../../main/tallydb/grant.ts'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

describe('tally database grants', () => {
  it('opens only its tally for its peer', () => {
    const key = randomBytes(32)
    const grant = deriveGrant(key, 't1', 'peer-B')
    expect(verifyGrant(key, 't1', 'peer-B', grant)).toBe(true)
    expect(verifyGrant(key, 't2', 'peer-B', grant)).toBe(false)
    expect(verifyGrant(key, 't1', 'peer-C', grant)).toBe(false)
    expect(verifyGrant(randomBytes(32), 't1', 'peer-B', grant)).toBe(false)
    expect(verifyGrant(key, 't1', 'peer-B', '')).toBe(false)
    expect(verifyGrant(key, 't1', 'peer-B', 42)).toBe(false)
  })

  it('refuses every other spelling of the last character, though base64url decodes some to the same bytes', () => {
    const key = randomBytes(32)
    const grant = deriveGrant(key, 't1', 'peer-B')
    const last = grant.at(-1)!
    const others = [...ALPHABET].filter((c) => c !== last).map((c) => grant.slice(0, -1) + c)
    // the 2 spare bits of a 43-character encoding of 32 bytes: 3 other spellings decode to the same bytes
    const sameBytes = others.filter((g) =>
      Buffer.from(g, 'base64url').equals(Buffer.from(grant, 'base64url'))
    )
    expect(sameBytes).toHaveLength(3)
    for (const g of others) expect(verifyGrant(key, 't1', 'peer-B', g)).toBe(false)
  })
})
