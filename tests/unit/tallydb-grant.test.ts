/** The tally database's grant: derived, checked in constant time, with one spelling only. */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../main/store/index.ts'
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

describe("a store's grant key", () => {
  it('is the secret’s, the same after a reopen, and a caller that wipes its copy changes no later grant', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'taleus-grantkey-'))
    try {
      const store = await openStore(dir)
      const first = store.grantKey()
      expect(first).toHaveLength(32)
      first.fill(0)
      const second = store.grantKey()
      expect(second.equals(Buffer.alloc(32))).toBe(false)
      const grant = deriveGrant(second, 't1', 'peer-B')
      await store.close()
      const reopened = await openStore(dir)
      try {
        // derived from the folder's secret, not kept anywhere: a reopen hands out the same grants
        expect(reopened.grantKey().equals(second)).toBe(true)
        expect(verifyGrant(reopened.grantKey(), 't1', 'peer-B', grant)).toBe(true)
      } finally {
        await reopened.close()
      }
      // another folder, another secret
      const other = await mkdtemp(join(tmpdir(), 'taleus-grantkey-'))
      const stranger = await openStore(other)
      expect(stranger.grantKey().equals(second)).toBe(false)
      await stranger.close()
      await rm(other, { recursive: true, force: true })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
