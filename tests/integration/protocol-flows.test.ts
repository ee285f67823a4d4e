import { afterEach, describe, expect, it } from 'vitest'
import { makePair, nextTerminal, recordEvents } from './protocol-helpers.ts'
import type { Pair } from './protocol-helpers.ts'

describe('bootstrap flows over real libp2p nodes', () => {
  let pair: Pair | undefined
  afterEach(async () => {
    await pair?.close()
    pair = undefined
  })

  it('stock: both sides end DONE with the same confirmed tally, B cadre first, A cadre after approval', async () => {
    pair = await makePair(
      { cadrePeerAddrs: () => ['/ip4/10.0.0.1/tcp/1/p2p/A-cadre'] },
      { cadrePeerAddrs: () => ['/ip4/10.0.0.2/tcp/2/p2p/B-cadre'] }
    )
    pair.hooksA.addToken('stock-token-1', 'stock')
    const eventsA = recordEvents(pair.managerA)
    const eventsB = recordEvents(pair.managerB)
    const doneA = nextTerminal(pair.managerA)
    const result = await pair.managerB.initiateBootstrap(pair.link('stock-token-1', 'stock'), pair.b)
    const endA = await doneA

    expect(endA.state).toBe('L_DONE')
    expect(endA.tallyId).toBe(result.tally.tallyId)
    expect(result.role).toBe('stock')
    expect(result.tally.createdBy).toBe('stock')
    expect(result.tally.initiatorPeerId).toBe(pair.b.peerId.toString())
    expect(result.tally.respondentPeerId).toBe(pair.a.peerId.toString())
    expect(result.remotePeerId).toBe(pair.a.peerId.toString())
    expect(result.remoteCadrePeerAddrs).toEqual(['/ip4/10.0.0.1/tcp/1/p2p/A-cadre'])
    expect(pair.hooksA.tallies.get(result.tally.tallyId)?.status).toBe('confirmed')
    expect(pair.hooksB.tallies.get(result.tally.tallyId)?.status).toBe('confirmed')
    expect(eventsA.map((e) => e.state)).toEqual([
      'L_PROCESS_CONTACT',
      'L_SEND_RESPONSE',
      'L_AWAIT_ACK',
      'L_DONE'
    ])
    expect(eventsB.map((e) => e.state)).toEqual([
      'D_SEND_CONTACT',
      'D_AWAIT_RESPONSE',
      'D_HANDLE_RESPONSE',
      'D_SEND_ACK',
      'D_DONE'
    ])
    expect(eventsA[0]?.previousState).toBeNull()
    expect(eventsA.at(-1)?.tokenId).toBe('id-stoc')
    // no event or audit record carries the token text
    expect(JSON.stringify([eventsA, eventsB, pair.hooksA.events, pair.hooksB.events])).not.toContain(
      'stock-token-1'
    )
    expect(pair.hooksA.events.map((e) => e.state)).toEqual(eventsA.map((e) => e.state))
    expect(pair.managerA.getActiveListenerCount()).toBe(0)
    expect(pair.managerB.getActiveDialerCount()).toBe(0)
  })

  it('foil: B provisions, A records and acks, both DONE with the same tally', async () => {
    pair = await makePair()
    pair.hooksA.addToken('foil-token-1', 'foil')
    const eventsA = recordEvents(pair.managerA)
    const eventsB = recordEvents(pair.managerB)
    const doneA = nextTerminal(pair.managerA)
    const result = await pair.managerB.initiateBootstrap(pair.link('foil-token-1', 'foil'), pair.b)
    const endA = await doneA

    expect(endA.state).toBe('L_DONE')
    expect(endA.tallyId).toBe(result.tally.tallyId)
    expect(result.tally.createdBy).toBe('foil')
    expect(result.dbConnectionInfo.credentials).toBe('cred-B')
    expect(pair.hooksA.tallies.get(result.tally.tallyId)?.status).toBe('confirmed')
    expect(pair.hooksB.tallies.get(result.tally.tallyId)?.status).toBe('confirmed')
    expect(pair.hooksA.calls).not.toContain('provisionDatabase')
    expect(eventsA.map((e) => e.state)).toEqual([
      'L_PROCESS_CONTACT',
      'L_SEND_RESPONSE',
      'L_AWAIT_DATABASE',
      'L_DONE'
    ])
    expect(eventsB.map((e) => e.state)).toEqual([
      'D_SEND_CONTACT',
      'D_AWAIT_RESPONSE',
      'D_HANDLE_RESPONSE',
      'D_SEND_DATABASE',
      'D_AWAIT_ACK',
      'D_DONE'
    ])
    expect(pair.managerA.getActiveListenerCount()).toBe(0)
    expect(pair.managerB.getActiveDialerCount()).toBe(0)
  })

  it('a failing audit hook (throwing or rejecting) never fails a session', async () => {
    pair = await makePair()
    pair.hooksA.addToken('audit-token', 'stock')
    let calls = 0
    pair.hooksA.logSessionEvent = async () => {
      calls++
      throw new Error('audit down')
    }
    pair.hooksB.logSessionEvent = (() => {
      calls++
      throw new Error('sync throw')
    }) as never
    const doneA = nextTerminal(pair.managerA)
    const result = await pair.managerB.initiateBootstrap(pair.link('audit-token', 'stock'), pair.b)
    expect((await doneA).state).toBe('L_DONE')
    expect(result.role).toBe('stock')
    expect(calls).toBe(9)
  })
})
