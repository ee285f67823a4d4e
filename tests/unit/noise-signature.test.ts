import { afterEach, describe, expect, it, vi } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import type { Libp2p } from '@libp2p/interface'
import { createTaleusNode } from '../../main/node/index.ts'
import { signOnceKey } from '../../main/node/noise-signature.ts'

const ECHO = '/taleus-test/sign-once/1.0.0'

describe('signOnceKey', () => {
  it('gives the key’s own signatures, signing a repeated message only once', async () => {
    const key = await generateKeyPair('Ed25519')
    const sign = vi.spyOn(key, 'sign')
    const once = signOnceKey(key)
    const a = new TextEncoder().encode('noise-libp2p-static-key:aaaa')
    const b = new TextEncoder().encode('noise-libp2p-static-key:bbbb')
    const first = await once.sign(a)
    const again = await once.sign(Uint8Array.from(a))
    expect(Buffer.from(again).equals(Buffer.from(first))).toBe(true)
    expect(Buffer.from(await once.sign(b)).equals(Buffer.from(await key.sign(b)))).toBe(true)
    expect(await key.publicKey.verify(a, first)).toBe(true)
    expect(await key.publicKey.verify(b, await once.sign(b))).toBe(true)
    // a, b (plus the direct key.sign(b) above): each new message signed once
    expect(sign).toHaveBeenCalledTimes(3)
    expect(once.publicKey.equals(key.publicKey)).toBe(true)
    expect(once.type).toBe('Ed25519')
  })
})

describe('a Taleus node', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => {
    vi.restoreAllMocks()
    await Promise.allSettled(nodes.splice(0).map((n) => n.stop()))
  })

  it('signs its Noise static key once, not once per handshake', async () => {
    const key = await generateKeyPair('Ed25519')
    const sign = vi.spyOn(key, 'sign')
    const listener = await createTaleusNode({ privateKey: key })
    nodes.push(listener)
    await listener.handle(ECHO, async (stream) => {
      const lp = lpStream(stream)
      await lp.write(await lp.read())
      await stream.close()
    })
    for (let i = 0; i < 4; i++) {
      const dialer = await createTaleusNode({ listen: [] })
      nodes.push(dialer)
      const options = { signal: AbortSignal.timeout(30_000) }
      const stream = await dialer.dialProtocol(listener.getMultiaddrs()[0]!, ECHO, options)
      const lp = lpStream(stream)
      await lp.write(new Uint8Array(4), options)
      await lp.read(options)
      await stream.close(options)
    }
    // the node signs other things too (its peer record, self-record.ts): count Noise's payloads only
    const noisePrefix = 'noise-libp2p-static-key:'
    const noiseSignatures = sign.mock.calls.filter(([message]) =>
      Buffer.from(message instanceof Uint8Array ? message : message.subarray())
        .toString('latin1')
        .startsWith(noisePrefix)
    )
    expect(noiseSignatures).toHaveLength(1)
  })
})
