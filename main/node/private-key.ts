/** Persistence of the node's Ed25519 key, so its peer id survives restarts. */
import { chmod, mkdir, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { writeFileDurable } from '../store/durable-file.ts'

/** Reads the protobuf private key in `file`, or creates an Ed25519 one there (mode 0600). */
export async function loadOrCreatePrivateKey(file: string): Promise<PrivateKey> {
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (bytes != null) {
    // private whoever wrote it
    await chmod(file, 0o600).catch(() => {})
    return privateKeyFromProtobuf(bytes)
  }
  const key = await generateKeyPair('Ed25519')
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  // temp + fsync + rename + folder fsync: neither a crash nor a power cut leaves an empty identity
  await writeFileDurable(file, privateKeyToProtobuf(key), 0o600)
  return key
}
