// Writes a store's journals directly in their on-disk format: `tallies` tally records and `events` audit
// events, as a busy merchant's store would hold them after months of use.
import { randomBytes, randomUUID } from 'node:crypto'
import { open } from 'node:fs/promises'
import { join } from 'node:path'

const STOCK_STATES = [null, 'L_PROCESS_CONTACT', 'L_SEND_RESPONSE', 'L_AWAIT_ACK', 'L_DONE']

/** Fills `dataDir` (empty, not yet opened) with tallies.jsonl and audit.jsonl. */
export async function prefillStore(dataDir, { tallies, events }) {
  const localPeerId = `12D3KooW${randomBytes(33).toString('base64url').replace(/[-_]/g, 'x').slice(0, 44)}`
  const addr = `/ip4/127.0.0.1/tcp/40000/p2p/${localPeerId}`
  const start = Date.now() - 90 * 24 * 3600 * 1000
  const sessions = []
  await writeLines(join(dataDir, 'tallies.jsonl'), tallies, (i) => {
    const tallyId = randomUUID()
    const sessionId = randomUUID()
    const peerId = `12D3KooW${randomBytes(33).toString('base64url').replace(/[-_]/g, 'x').slice(0, 44)}`
    const at = start + i * 600
    sessions.push({ sessionId, peerId, tallyId, at })
    return {
      tallyId,
      role: 'stock',
      direction: 'inbound',
      status: 'confirmed',
      counterpartyPeerId: peerId,
      localPeerId,
      sessionId,
      createdAt: at,
      updatedAt: at + 20,
      tokenId: 'tok_bench_prefill',
      tokenLabel: 'till 1',
      tally: {
        tallyId,
        createdBy: 'stock',
        initiatorPeerId: peerId,
        respondentPeerId: localPeerId,
        createdAt: new Date(at).toISOString()
      },
      dbConnectionInfo: { nodes: [addr], credentials: randomBytes(32).toString('base64url') }
    }
  })
  // every session of the history: four transitions each (plus rejections' shorter ones in real life)
  await writeLines(join(dataDir, 'audit.jsonl'), events, (i) => {
    const s = sessions[Math.floor(i / 4) % sessions.length]
    const step = (i % 4) + 1
    const event = {
      sessionId: s.sessionId,
      direction: 'inbound',
      state: STOCK_STATES[step],
      previousState: STOCK_STATES[step - 1],
      at: s.at + step * 5,
      peerId: s.peerId,
      tokenId: 'tok_bench_prefill',
      role: 'stock'
    }
    if (step >= 2) event.tallyId = s.tallyId
    return event
  })
}

async function writeLines(file, n, make) {
  const fh = await open(file, 'w', 0o600)
  try {
    let chunk = []
    for (let i = 0; i < n; i++) {
      chunk.push(JSON.stringify(make(i)))
      if (chunk.length === 5000 || i === n - 1) {
        await fh.write(chunk.join('\n') + '\n')
        chunk = []
      }
    }
    await fh.sync()
  } finally {
    await fh.close()
  }
}
