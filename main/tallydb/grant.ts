/**
 * Grants: the `credentials` of a tally's dbConnectionInfo. A grant is HMAC-SHA256(grant key, tallyId ‖
 * counterpartyPeerId), so the provisioner stores nothing secret to check it (it re-derives and compares in
 * constant time), and a grant opens one tally for one peer only. The party that opens a document keeps the
 * grant it was given sealed (AES-256-GCM under a key derived from its own node secret), never in clear.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { DocumentId } from '@automerge/automerge-repo'
import type { OpenRequest } from './adapter-types.ts'
import type { TallyIndexStore } from './backend-types.ts'

const GRANT_LABEL = 'taleus/tallydb/grant/1'
const SEAL_LABEL = 'taleus/tallydb/seal/1'
const IV_BYTES = 12
const TAG_BYTES = 16

/** The grant of `tallyId` for `counterpartyPeerId` (base64url, 43 characters). */
export function deriveGrant(key: Uint8Array, tallyId: string, counterpartyPeerId: string): string {
  return createHmac('sha256', key)
    .update(`${GRANT_LABEL}\0${tallyId}\0${counterpartyPeerId}`, 'utf8')
    .digest('base64url')
}

/** True when `grant` is the grant of `tallyId` for `peerId` (constant time). */
export function verifyGrant(key: Uint8Array, tallyId: string, peerId: string, grant: unknown): boolean {
  if (typeof grant !== 'string' || grant.length === 0 || grant.length > 128) return false
  // compared as text: base64url decoding ignores the last character's spare bits, and a grant has one
  // spelling (a flipped last character must not open the document)
  const expected = Buffer.from(deriveGrant(key, tallyId, peerId), 'utf8')
  const given = Buffer.from(grant, 'utf8')
  return given.length === expected.length && timingSafeEqual(given, expected)
}

function sealKey(key: Uint8Array): Buffer {
  return createHmac('sha256', key).update(SEAL_LABEL, 'utf8').digest()
}

/** Seal a grant received from a provisioner, bound to its tally (the tallyId is authenticated data). */
export function sealGrant(key: Uint8Array, tallyId: string, grant: string): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', sealKey(key), iv)
  cipher.setAAD(Buffer.from(tallyId, 'utf8'))
  const body = Buffer.concat([cipher.update(grant, 'utf8'), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
}

/** The grant sealed by sealGrant; undefined when it was not sealed for this tally under this key. */
export function openGrant(key: Uint8Array, tallyId: string, sealed: string): string | undefined {
  try {
    const buf = Buffer.from(sealed, 'base64url')
    if (buf.length <= IV_BYTES + TAG_BYTES) return undefined
    const decipher = createDecipheriv('aes-256-gcm', sealKey(key), buf.subarray(0, IV_BYTES))
    decipher.setAAD(Buffer.from(tallyId, 'utf8'))
    decipher.setAuthTag(buf.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
    return Buffer.concat([decipher.update(buf.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
      'utf8'
    )
  } catch {
    return undefined
  }
}

/**
 * The document a provisioner opens for `request`, or undefined. Every refusal looks the same to the asker:
 * unknown tally, not ours to serve, revoked, wrong peer, wrong grant.
 */
export async function authorizeOpen(
  index: TallyIndexStore,
  key: Uint8Array,
  request: OpenRequest
): Promise<DocumentId | undefined> {
  const { remotePeer, tallyId, grant } = request
  // a shared index answers as it is now: a tally another node provisioned, a grant another node revoked
  const entry = index.load === undefined ? index.get(tallyId) : await index.load(tallyId)
  if (entry === undefined || !entry.provisioner || entry.revoked === true) return undefined
  if (remotePeer !== entry.counterpartyPeerId) return undefined
  if (!verifyGrant(key, tallyId, remotePeer, grant)) return undefined
  return entry.documentId as DocumentId
}
