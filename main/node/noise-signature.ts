/**
 * Noise signs the same bytes in every handshake: "noise-libp2p-static-key:" + the node's static X25519
 * key, which libp2p-noise generates once per node. Ed25519 signatures are deterministic (RFC 8032), so
 * the signature is the same every time too; @libp2p/crypto still imports the private key from JWK and
 * signs afresh per handshake. Here the last signature is kept and given again for the same bytes.
 */
import type { PrivateKey } from '@libp2p/interface'

/** A view of `key` whose sign() answers a repeat of the last message from memory (same bytes out). */
export function signOnceKey(key: PrivateKey): PrivateKey {
  let last: { message: Uint8Array; signature: Uint8Array } | undefined
  const view: PrivateKey = Object.create(key)
  const sign = key.sign.bind(key)
  view.sign = ((message, options) => {
    if (!(message instanceof Uint8Array)) return sign(message, options)
    if (last !== undefined && sameBytes(last.message, message)) return last.signature.slice()
    const signature = sign(message, options)
    const keep = (sig: Uint8Array): Uint8Array => {
      last = { message: message.slice(), signature: sig.slice() }
      return sig
    }
    return signature instanceof Uint8Array ? keep(signature) : signature.then(keep)
  }) as PrivateKey['sign']
  return view
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

/** `encrypter` (e.g. `noise()`) given a private key that signs a repeated message once (see above). */
export function signOnceEncrypter<C extends { privateKey: PrivateKey }, E>(
  encrypter: (components: C) => E
): (components: C) => E {
  return (components) => {
    // libp2p's components are a proxy: a view with its own privateKey, everything else from it
    const view: C = Object.create(components)
    Object.defineProperty(view, 'privateKey', { value: signOnceKey(components.privateKey) })
    return encrypter(view)
  }
}
