// The crypto floor: what the cryptography of one fresh customer costs the listener with node:crypto
// alone, measured in the bench's own process so a run's figures are read against the same machine state.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  sign,
  verify
} from 'node:crypto'
import { median, round } from './stats.js'

/** ChaCha20-Poly1305 bytes per customer: the handshake's encrypted payloads and the session's frames. */
const AEAD_BYTES = 2800
const AEAD_MESSAGES = 8

/**
 * One Noise XX responder's cryptography plus its share of transport AEAD: 1 X25519 key generation and 3
 * Diffie-Hellman, 1 Ed25519 signature (over our static key) and 1 verification (the customer's), the
 * handshake's 8 SHA-256 mixHash and 4 HKDF, ChaCha20-Poly1305 of AEAD_BYTES (half sealed, half opened).
 */
function makeCustomer() {
  const remoteEphemeral = generateKeyPairSync('x25519').publicKey
  const remoteStatic = generateKeyPairSync('x25519').publicKey
  const localStatic = generateKeyPairSync('x25519').privateKey
  const identity = generateKeyPairSync('ed25519')
  const remoteIdentity = generateKeyPairSync('ed25519')
  const signedBytes = Buffer.concat([Buffer.from('noise-libp2p-static-key:'), randomBytes(32)])
  const remoteSignature = sign(null, signedBytes, remoteIdentity.privateKey)
  const key = randomBytes(32)
  const nonce = Buffer.alloc(12)
  const ad = randomBytes(32)
  const chunk = AEAD_BYTES / AEAD_MESSAGES
  const plaintext = randomBytes(chunk)
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
  cipher.setAAD(ad, { plaintextLength: chunk })
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()])
  const tag = cipher.getAuthTag()
  const hashInput = randomBytes(96)
  return () => {
    const ephemeral = generateKeyPairSync('x25519').privateKey
    let ck = diffieHellman({ privateKey: ephemeral, publicKey: remoteEphemeral })
    ck = Buffer.concat([ck, diffieHellman({ privateKey: localStatic, publicKey: remoteEphemeral })])
    ck = Buffer.concat([ck, diffieHellman({ privateKey: ephemeral, publicKey: remoteStatic })])
    sign(null, signedBytes, identity.privateKey)
    if (!verify(null, signedBytes, remoteIdentity.publicKey, remoteSignature)) throw new Error('verify')
    let h = hashInput
    for (let i = 0; i < 8; i++) h = createHash('sha256').update(h).update(hashInput).digest()
    for (let i = 0; i < 4; i++) hkdfSync('sha256', ck.subarray(0, 32), h, '', 96)
    for (let i = 0; i < AEAD_MESSAGES / 2; i++) {
      const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
      c.setAAD(ad, { plaintextLength: chunk })
      c.update(plaintext)
      c.final()
      c.getAuthTag()
      const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
      d.setAAD(ad, { plaintextLength: chunk })
      d.setAuthTag(tag)
      d.update(sealed)
      d.final()
    }
  }
}

/**
 * Listener CPU of one customer's cryptography with node:crypto, in ms: the median of `rounds` rounds of
 * `perRound` customers each (process CPU time, so robust to other load as far as CPU time is).
 */
export function cryptoFloorMs({ rounds = 7, perRound = 400 } = {}) {
  const customer = makeCustomer()
  for (let i = 0; i < 200; i++) customer()
  const samples = []
  for (let r = 0; r < rounds; r++) {
    const before = process.cpuUsage()
    for (let i = 0; i < perRound; i++) customer()
    const used = process.cpuUsage(before)
    samples.push((used.user + used.system) / 1000 / perRound)
  }
  return { ms: round(median(samples), 3), samples: samples.map((s) => round(s, 3)) }
}
