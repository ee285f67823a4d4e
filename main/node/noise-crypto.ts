/**
 * Noise crypto that keeps X25519 keys as node:crypto KeyObjects.
 *
 * @chainsafe/libp2p-noise's default Node implementation hands keys around as raw bytes and re-imports
 * them as DER on every Diffie-Hellman: a PKCS8 private-key import costs ~10× the DH itself (it derives
 * the public key again) and an SPKI public-key import ~2×. Here each key pair is generated as KeyObjects
 * and the private KeyObject is remembered beside the bytes Noise carries, and a remote public key is
 * imported once (as JWK, ~8× cheaper than SPKI) per object Noise passes in. The arithmetic and the bytes
 * on the wire are exactly those of the default (tests/unit/noise-crypto.test.ts compares them).
 * HKDF is node:crypto's too (the default's is @noble/hashes in JavaScript: 4 per handshake, ~3× the time
 * of the native one in a rush). Hashes and ChaCha20-Poly1305 are the default's.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync } from 'node:crypto'
import type { JsonWebKey, KeyObject } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import type { ICryptoInterface, KeyPair } from '@chainsafe/libp2p-noise'

/** Key bytes as Noise passes them: an array or a list of chunks (libp2p-noise's own uint8arraylist). */
type KeyBytes = Parameters<ICryptoInterface['generateX25519SharedKey']>[0]

/** DER prefix of an X25519 PKCS8 private key (RFC 8410), before the 32-byte scalar. */
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20
])

/** Private KeyObjects by the byte array Noise carries as `KeyPair.privateKey` (same object, same key). */
const privateKeys = new WeakMap<object, KeyObject>()
/** Remote public keys by the object Noise passes (its `re` is the same object for two DHs). */
const publicKeys = new WeakMap<object, KeyObject>()

function bytesOf(data: KeyBytes): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray()
}

function fromBase64url(text: string | undefined): Uint8Array {
  if (text == null) throw new Error('X25519 JWK export without key material')
  const buf = Buffer.from(text, 'base64url')
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

function keyPairOf(privateKey: KeyObject): KeyPair {
  // one JWK export gives both halves (~1 µs; a DER export of the public key costs ~70 µs); only for keys
  // this module imported (see generateX25519KeyPair for why not for generated ones)
  const jwk = privateKey.export({ format: 'jwk' })
  const pair = { publicKey: fromBase64url(jwk.x), privateKey: fromBase64url(jwk.d) }
  privateKeys.set(pair.privateKey, privateKey)
  return pair
}

function privateKeyObject(privateKey: KeyBytes): KeyObject {
  const known = privateKeys.get(privateKey)
  if (known != null) return known
  // bytes that did not come from this module (e.g. a `staticNoiseKey` copy): import once, remember
  const scalar = bytesOf(privateKey)
  const der = new Uint8Array(PKCS8_PREFIX.length + scalar.length)
  der.set(PKCS8_PREFIX)
  der.set(scalar, PKCS8_PREFIX.length)
  const key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' })
  privateKeys.set(privateKey, key)
  return key
}

function publicKeyObject(publicKey: KeyBytes): KeyObject {
  const known = publicKeys.get(publicKey)
  if (known != null) return known
  const x = Buffer.from(bytesOf(publicKey)).toString('base64url')
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' })
  publicKeys.set(publicKey, key)
  return key
}

/** Both halves of a generated pair as JWKs, encoded by the key-generation job itself. */
const JWK_ENCODING = {
  publicKeyEncoding: { type: 'spki', format: 'jwk' },
  privateKeyEncoding: { type: 'pkcs8', format: 'jwk' }
} as const

/** Noise's HKDF info is empty: HKDF-SHA256(salt = ck, ikm) → 3 × 32 bytes. */
const NO_INFO = new Uint8Array(0)

/** libp2p-noise crypto with X25519 keys kept as node:crypto KeyObjects: pass as `noise({ crypto })`. */
export const keyObjectCrypto: ICryptoInterface = {
  ...defaultCrypto,
  getHKDF(ck: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
    const okm = new Uint8Array(hkdfSync('sha256', ikm, ck, NO_INFO, 96))
    return [okm.subarray(0, 32), okm.subarray(32, 64), okm.subarray(64, 96)]
  },
  generateX25519KeyPair(): KeyPair {
    // Never export a key that generateKeyPairSync returned as a KeyObject: on Node 20 that export holds
    // the key's mutex while it allocates, a GC during it finalises the finished key-generation job, and
    // the job's destructor takes the same mutex: the main thread deadlocks (seen under load; a plain
    // loop of generate-then-export hangs within seconds). The job encodes the JWKs itself while it is
    // alive, and the private key is imported from its JWK (cheap, unlike PKCS8).
    // (@types/node does not list 'jwk' as an encoding format, though Node supports it)
    const { publicKey, privateKey } = generateKeyPairSync('x25519', JWK_ENCODING as never) as unknown as {
      publicKey: JsonWebKey
      privateKey: JsonWebKey
    }
    const pair = { publicKey: fromBase64url(publicKey.x), privateKey: fromBase64url(privateKey.d) }
    privateKeys.set(pair.privateKey, createPrivateKey({ key: privateKey, format: 'jwk' }))
    return pair
  },
  generateX25519KeyPairFromSeed(seed: Uint8Array): KeyPair {
    const pair = keyPairOf(privateKeyObject(seed))
    // the seed is the caller's array: keep it as the private key, as the default does
    privateKeys.set(seed, privateKeys.get(pair.privateKey)!)
    return { publicKey: pair.publicKey, privateKey: seed }
  },
  generateX25519SharedKey(privateKey: KeyBytes, publicKey: KeyBytes): Uint8Array {
    return diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) })
  }
}
