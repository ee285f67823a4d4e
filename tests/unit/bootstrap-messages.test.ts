import { describe, expect, it } from 'vitest'
import { LIMITS, decodeMessage, encodeMessage } from '../../main/bootstrap/messages.ts'
import type { Message } from '../../main/bootstrap/messages.ts'
import { MAX_FRAME_BYTES } from '../../main/bootstrap/types.ts'

const tally = {
  tallyId: 't1',
  createdBy: 'stock',
  initiatorPeerId: 'B123',
  respondentPeerId: 'A123',
  createdAt: '2026-11-25T00:00:00Z'
} as const
const db = { nodes: ['/ip4/127.0.0.1/tcp/1'], credentials: 'c' }
const valid: Message[] = [
  {
    type: 'InboundContact',
    token: 'tok',
    partyId: 'B123',
    identityBundle: { email: 'b@x' },
    cadrePeerAddrs: ['/ip4/1.2.3.4/tcp/1']
  },
  {
    type: 'ProvisioningResult',
    approved: true,
    role: 'stock',
    partyId: 'A123',
    cadrePeerAddrs: [],
    provisionResult: { tally, dbConnectionInfo: db }
  },
  { type: 'ProvisioningResult', approved: true, role: 'foil', partyId: 'A123', cadrePeerAddrs: ['/x'] },
  { type: 'ProvisioningResult', approved: false, reason: 'busy' },
  { type: 'ProvisioningResult', approved: false, role: 'foil', reason: 'invalid-token' },
  { type: 'DatabaseResult', tally: { ...tally, createdBy: 'foil' }, dbConnectionInfo: db },
  { type: 'Ack', ok: true },
  { type: 'Ack', ok: false, reason: 'role-mismatch' }
]

function badMessage(input: Uint8Array | string): void {
  expect(() => decodeMessage(input)).toThrow(
    expect.objectContaining({ name: 'BadMessageError', reason: 'bad-message' })
  )
}

describe('wire messages', () => {
  it.each(valid.map((m) => [`${m.type} ${JSON.stringify(m).slice(0, 60)}`, m] as const))(
    'round-trips %s',
    (_n, message) => {
      expect(decodeMessage(encodeMessage(message))).toEqual(message)
    }
  )

  it('refuses bad JSON, non-objects, bad UTF-8 and unknown types', () => {
    badMessage('{"type":')
    badMessage('null')
    badMessage('[{"type":"Ack","ok":true}]')
    badMessage('"Ack"')
    badMessage(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))
    badMessage('{"type":"Hello"}')
    badMessage('{"type":"toString"}')
    badMessage('{"ok":true}')
  })

  it('refuses missing fields, wrong types and unknown keys', () => {
    badMessage(JSON.stringify({ type: 'InboundContact', token: 'tok', partyId: 'B1', identityBundle: {} }))
    badMessage(
      JSON.stringify({
        type: 'InboundContact',
        token: 5,
        partyId: 'B1',
        identityBundle: {},
        cadrePeerAddrs: []
      })
    )
    badMessage(
      JSON.stringify({
        type: 'InboundContact',
        token: 'tok',
        partyId: 'B1',
        identityBundle: { a: 1 },
        cadrePeerAddrs: []
      })
    )
    badMessage(JSON.stringify({ type: 'Ack', ok: 'yes' }))
    badMessage(JSON.stringify({ type: 'Ack', ok: true, extra: 1 }))
    badMessage(JSON.stringify({ type: 'Ack', ok: false }))
    badMessage(JSON.stringify({ type: 'Ack', ok: false, reason: 'because' }))
    badMessage(
      JSON.stringify({ type: 'DatabaseResult', tally: { ...tally, extra: 1 }, dbConnectionInfo: db })
    )
  })

  it('a rejection carries nothing of A: partyId, cadre or a database are refused in it', () => {
    badMessage(JSON.stringify({ type: 'ProvisioningResult', approved: false, reason: 'busy', partyId: 'A1' }))
    badMessage(
      JSON.stringify({ type: 'ProvisioningResult', approved: false, reason: 'busy', cadrePeerAddrs: [] })
    )
    badMessage(
      JSON.stringify({
        type: 'ProvisioningResult',
        approved: false,
        reason: 'busy',
        provisionResult: { tally, dbConnectionInfo: db }
      })
    )
    badMessage(
      JSON.stringify({ type: 'ProvisioningResult', approved: true, role: 'stock', cadrePeerAddrs: [] })
    )
  })

  it('refuses __proto__, constructor and prototype keys at any depth', () => {
    badMessage('{"__proto__":{"x":1},"type":"Ack","ok":true}')
    badMessage(
      '{"type":"InboundContact","token":"t","partyId":"B1","identityBundle":{"__proto__":"x"},"cadrePeerAddrs":[]}'
    )
    badMessage(
      '{"type":"InboundContact","token":"t","partyId":"B1","identityBundle":{"constructor":"x"},"cadrePeerAddrs":[]}'
    )
    badMessage('{"type":"Ack","ok":true,"prototype":1}')
    // spelt with escapes, which JSON.parse turns into the same key
    badMessage('{"type":"Ack","ok":true,"\\u005f_proto__":{"x":1}}')
    badMessage('{"type":"Ack","ok":true,"proto\\u0074ype":1}')
  })

  it('bounds every string and array', () => {
    const contact = {
      type: 'InboundContact',
      token: 'tok',
      partyId: 'B1',
      identityBundle: {},
      cadrePeerAddrs: []
    }
    badMessage(JSON.stringify({ ...contact, token: 'x'.repeat(LIMITS.token + 1) }))
    badMessage(JSON.stringify({ ...contact, partyId: 'B'.repeat(LIMITS.peerId + 1) }))
    badMessage(JSON.stringify({ ...contact, cadrePeerAddrs: Array(LIMITS.cadreAddrs + 1).fill('/x') }))
    badMessage(JSON.stringify({ ...contact, cadrePeerAddrs: ['/'.repeat(LIMITS.multiaddr + 1)] }))
    badMessage(
      JSON.stringify({
        ...contact,
        identityBundle: Object.fromEntries(
          Array.from({ length: LIMITS.identityFields + 1 }, (_, i) => [`k${i}`, 'v'])
        )
      })
    )
    badMessage(
      JSON.stringify({ ...contact, identityBundle: { email: 'x'.repeat(LIMITS.identityValue + 1) } })
    )
    expect(decodeMessage(JSON.stringify({ ...contact, token: 'x'.repeat(LIMITS.token) })).type).toBe(
      'InboundContact'
    )
  })

  it('refuses an oversize frame on decode and encode', () => {
    badMessage(new Uint8Array(MAX_FRAME_BYTES + 1).fill(0x20))
    const huge = {
      type: 'DatabaseResult',
      tally,
      dbConnectionInfo: { nodes: [], credentials: 'x'.repeat(LIMITS.credentials + 1) }
    } as unknown as Message
    expect(() => encodeMessage(huge)).toThrow(expect.objectContaining({ name: 'BadMessageError' }))
  })
})
