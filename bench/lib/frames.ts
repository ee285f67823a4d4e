/**
 * Frame bodies of the same shape and size as a stock bootstrap's real messages, for the baseline (which
 * moves the bytes but validates and stores nothing).
 */
import { randomBytes, randomUUID } from 'node:crypto'

/** Protocol id of the do-nothing baseline handler. */
export const BASELINE_PROTOCOL = '/taleus/bench-baseline/1.0.0'

const encoder = new TextEncoder()

/** Message 1 (B → A): InboundContact with a 43-character token, B's peer id, no identity, no cadre. */
export function contactFrame(dialerPeerId: string): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      type: 'InboundContact',
      token: randomBytes(32).toString('base64url'),
      partyId: dialerPeerId,
      identityBundle: {},
      cadrePeerAddrs: []
    })
  )
}

/** Message 2 (A → B): an approved stock ProvisioningResult carrying the tally and its database. */
export function provisioningFrame(
  listenerPeerId: string,
  dialerPeerId: string,
  listenerAddr: string
): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      type: 'ProvisioningResult',
      approved: true,
      role: 'stock',
      partyId: listenerPeerId,
      cadrePeerAddrs: [listenerAddr],
      provisionResult: {
        tally: {
          tallyId: randomUUID(),
          createdBy: 'stock',
          initiatorPeerId: dialerPeerId,
          respondentPeerId: listenerPeerId,
          createdAt: new Date().toISOString()
        },
        dbConnectionInfo: { nodes: [listenerAddr], credentials: randomBytes(32).toString('base64url') }
      }
    })
  )
}

/** Message 3 (B → A): the Ack. */
export function ackFrame(): Uint8Array {
  return encoder.encode(JSON.stringify({ type: 'Ack', ok: true }))
}
