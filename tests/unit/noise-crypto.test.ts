import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { pureJsCrypto } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { lpStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import type { Libp2p } from '@libp2p/interface'
import { createTaleusNode } from '../../main/node/index.ts'
import { keyObjectCrypto } from '../../main/node/noise-crypto.ts'
import { stockNode } from '../helpers/wire-nodes.ts'

const ECHO = '/taleus-test/echo/1.0.0'

type KeyBytes = Parameters<typeof keyObjectCrypto.generateX25519SharedKey>[1]

async function serveEcho(node: Libp2p): Promise<void> {
  await node.handle(ECHO, async (stream) => {
    const lp = lpStream(stream)
    await lp.write(await lp.read())
    await stream.close()
  })
}

async function echo(from: Libp2p, to: Libp2p, bytes: Uint8Array): Promise<Uint8Array> {
  const stream = await from.dialProtocol(to.getMultiaddrs()[0]!, ECHO, {
    signal: AbortSignal.timeout(30_000)
  })
  const lp = lpStream(stream)
  await lp.write(bytes)
  const reply = (await lp.read()).subarray()
  await stream.close()
  return reply
}

describe('keyObjectCrypto (Noise X25519 as node:crypto KeyObjects)', () => {
  it('generates key pairs whose public half is the default implementation’s for the same secret', () => {
    for (let i = 0; i < 20; i++) {
      const pair = keyObjectCrypto.generateX25519KeyPair()
      expect(pair.privateKey).toHaveLength(32)
      expect(Buffer.from(pair.publicKey)).toEqual(
        Buffer.from(defaultCrypto.generateX25519KeyPairFromSeed(pair.privateKey).publicKey)
      )
      expect(Buffer.from(pair.publicKey)).toEqual(
        Buffer.from(pureJsCrypto.generateX25519KeyPairFromSeed(pair.privateKey).publicKey)
      )
    }
  })

  it('derives from a seed exactly what the default does, keeping the caller’s seed as the private key', () => {
    const seed = new Uint8Array(randomBytes(32))
    const ours = keyObjectCrypto.generateX25519KeyPairFromSeed(seed)
    const theirs = defaultCrypto.generateX25519KeyPairFromSeed(seed)
    expect(ours.privateKey).toBe(seed)
    expect(Buffer.from(ours.publicKey)).toEqual(Buffer.from(theirs.publicKey))
  })

  it('computes the same shared secrets as the default, for arrays, chunk lists and copied keys', () => {
    for (let i = 0; i < 20; i++) {
      const a = keyObjectCrypto.generateX25519KeyPair()
      const b = defaultCrypto.generateX25519KeyPair()
      const expected = Buffer.from(defaultCrypto.generateX25519SharedKey(a.privateKey, b.publicKey))
      expect(expected).toEqual(Buffer.from(pureJsCrypto.generateX25519SharedKey(b.privateKey, a.publicKey)))
      // the cached KeyObjects, twice (Noise reuses `re` for two DHs)
      expect(Buffer.from(keyObjectCrypto.generateX25519SharedKey(a.privateKey, b.publicKey))).toEqual(
        expected
      )
      expect(Buffer.from(keyObjectCrypto.generateX25519SharedKey(a.privateKey, b.publicKey))).toEqual(
        expected
      )
      // the public key as a list of chunks, as Noise reads it off the wire
      // (the top-level uint8arraylist is another copy than libp2p-noise's: same class shape, other type)
      const list = new Uint8ArrayList(
        b.publicKey.subarray(0, 7),
        b.publicKey.subarray(7)
      ) as unknown as KeyBytes
      expect(Buffer.from(keyObjectCrypto.generateX25519SharedKey(a.privateKey, list))).toEqual(expected)
      // bytes this module never saw (no KeyObject remembered for them): imported, same result
      const copy = Uint8Array.from(a.privateKey)
      expect(
        Buffer.from(keyObjectCrypto.generateX25519SharedKey(copy, Uint8Array.from(b.publicKey)))
      ).toEqual(expected)
      // the other direction: a default key pair's private half through our DH
      expect(Buffer.from(keyObjectCrypto.generateX25519SharedKey(b.privateKey, a.publicKey))).toEqual(
        expected
      )
    }
  })

  it('derives the same HKDF outputs as the default (node:crypto instead of @noble/hashes)', () => {
    for (let i = 0; i < 50; i++) {
      const ck = randomBytes(32)
      const ikm = randomBytes(i % 2 === 0 ? 32 : 0)
      const ours = keyObjectCrypto.getHKDF(ck, ikm)
      const theirs = pureJsCrypto.getHKDF(ck, ikm)
      expect(ours.map((k) => Buffer.from(k).toString('hex'))).toEqual(
        theirs.map((k) => Buffer.from(k).toString('hex'))
      )
      expect(ours.map((k) => k.byteLength)).toEqual([32, 32, 32])
    }
  })

  it('rejects a low-order public key like the default does', () => {
    const a = keyObjectCrypto.generateX25519KeyPair()
    const zero = new Uint8Array(32)
    expect(() => defaultCrypto.generateX25519SharedKey(a.privateKey, zero)).toThrow()
    expect(() => keyObjectCrypto.generateX25519SharedKey(a.privateKey, zero)).toThrow()
  })

  describe('handshakes with a stock libp2p node', () => {
    const nodes: Libp2p[] = []
    afterEach(async () => {
      await Promise.allSettled(nodes.splice(0).map((n) => n.stop()))
    })

    it('a Taleus node dials a stock node and is dialled by one, both ways over Noise', async () => {
      const taleus = await createTaleusNode()
      const stock = await stockNode()
      nodes.push(taleus, stock)
      await serveEcho(taleus)
      await serveEcho(stock)
      const payload = new Uint8Array(randomBytes(3000))
      expect(Buffer.from(await echo(taleus, stock, payload))).toEqual(Buffer.from(payload))
      const other = await stockNode()
      nodes.push(other)
      expect(Buffer.from(await echo(other, taleus, payload))).toEqual(Buffer.from(payload))
      expect(taleus.getConnections(stock.peerId)[0]?.encryption).toBe('/noise')
      expect(taleus.getConnections(other.peerId)[0]?.encryption).toBe('/noise')
    })
  })
})
