/**
 * Node 20 deadlocks when a key that generateKeyPairSync returned as a KeyObject is exported while a GC
 * finalises the job that made it (the export holds the key's mutex and allocates; the job's destructor
 * takes the same mutex). Noise makes one ephemeral X25519 pair per handshake, so a node under a rush of
 * customers froze: its main thread waited on that mutex forever. The pairs are made in a child (a
 * deadlock there cannot freeze this worker) with a small young generation, so GCs come often.
 */
import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runTsChild, sourceUrl, tsLoader } from '../helpers/ts-child.ts'

const PAIRS = 60_000
const CHILD = `
const { keyObjectCrypto } = await import(${JSON.stringify(sourceUrl('main/node/noise-crypto.ts'))})
const peer = keyObjectCrypto.generateX25519KeyPair()
let n = 0
for (let i = 0; i < ${PAIRS}; i++) {
  const pair = keyObjectCrypto.generateX25519KeyPair()
  if (keyObjectCrypto.generateX25519SharedKey(pair.privateKey, peer.publicKey).length === 32) n++
}
console.log(n)
`

describe('ephemeral X25519 pairs under GC', () => {
  let loader: { dir: string; execArgv: string[] }
  beforeAll(async () => {
    loader = await tsLoader()
  })
  afterAll(async () => rm(loader.dir, { recursive: true, force: true }))

  it(`${PAIRS} pairs and their DH in a child with a 1 MB young generation finish (no deadlock)`, async () => {
    const started = performance.now()
    const { code, out, err } = await runTsChild(loader, CHILD, {
      flags: ['--max-semi-space-size=1'],
      timeoutMs: 45_000
    })
    process.stdout.write(
      `noise keygen under GC: ${PAIRS} pairs, exit ${code}, ${((performance.now() - started) / 1000).toFixed(1)} s\n`
    )
    expect(code, `the child hung or failed (killed after 45 s): ${err.slice(-500)}`).toBe(0)
    expect(Number(out.trim())).toBe(PAIRS)
  }, 60_000)
})
