/** The refused contact's path: no timer left behind per refusal, refusals encoded once per kind. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { lpStream } from '@libp2p/utils'
import type { Libp2p } from '@libp2p/interface'
import { timeoutSignal } from '../../main/bootstrap/abort.ts'
import { decodeMessage, encodeMessage } from '../../main/bootstrap/messages.ts'
import type { Message } from '../../main/bootstrap/messages.ts'
import { NO_RATE_LIMIT, PROTOCOL_ID, SessionManager } from '../../main/bootstrap/index.ts'
import type { SessionHooks } from '../../main/bootstrap/index.ts'
import { createTaleusNode } from '../../main/node/index.ts'
import { timeoutStacks } from '../helpers/timeout-spy.ts'

/** A fresh guard against hangs per call (never a timed assertion). */
const guard = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(30_000) })

describe('timeoutSignal', () => {
  it('aborts with a TimeoutError when its time runs out', async () => {
    const scope = timeoutSignal(1)
    const reason = await new Promise<{ name: string }>((resolve) =>
      scope.signal.addEventListener('abort', () => resolve(scope.signal.reason as { name: string }))
    )
    expect(reason.name).toBe('TimeoutError')
  })

  it('never aborts once cleared', async () => {
    const scope = timeoutSignal(1)
    scope.clear()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(scope.signal.aborted).toBe(false)
  })
})

describe('encodeMessage of refusals', () => {
  const refusals: Message[] = [
    { type: 'ProvisioningResult', approved: false, reason: 'invalid-token' },
    { type: 'ProvisioningResult', approved: false, reason: 'busy', role: 'stock' },
    { type: 'Ack', ok: false, reason: 'provision-failed' }
  ]

  it('gives the same bytes every time, each call its own copy', () => {
    for (const message of refusals) {
      const first = encodeMessage(message)
      const second = encodeMessage(message)
      expect(new TextDecoder().decode(first)).toBe(JSON.stringify(message))
      expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true)
      expect(second).not.toBe(first)
      second.fill(0)
      expect(decodeMessage(encodeMessage(message))).toEqual(message)
    }
  })

  it('still refuses an invalid refusal, however often', () => {
    const bad = {
      type: 'ProvisioningResult',
      approved: false,
      reason: 'no-such-reason'
    } as unknown as Message
    const extra = { type: 'Ack', ok: false, reason: 'busy', note: 'x' } as unknown as Message
    for (let i = 0; i < 2; i++) {
      expect(() => encodeMessage(bad)).toThrow(expect.objectContaining({ name: 'BadMessageError' }))
      expect(() => encodeMessage(extra)).toThrow(expect.objectContaining({ name: 'BadMessageError' }))
    }
  })
})

/** Hooks of a listener that knows no token. */
const REFUSING: SessionHooks = {
  validateToken: async () => null,
  provisionDatabase: async () => {
    throw new Error('never reached')
  },
  validateResponse: async () => true
}

describe('a refused contact', () => {
  const nodes: Libp2p[] = []
  const managers: SessionManager[] = []
  afterEach(async () => {
    vi.restoreAllMocks()
    await Promise.allSettled(managers.splice(0).map((m) => m.stop()))
    await Promise.allSettled(nodes.splice(0).map((n) => n.stop()))
  })

  /** A listening node that refuses every token, and a dialer node. */
  async function pair(): Promise<{ listener: Libp2p; dialer: Libp2p }> {
    const listener = await createTaleusNode()
    const dialer = await createTaleusNode({ listen: [] })
    nodes.push(listener, dialer)
    const manager = new SessionManager(REFUSING, {
      abuseLimits: { rejectedPerPeer: NO_RATE_LIMIT, rejectedPerIp: NO_RATE_LIMIT }
    })
    managers.push(manager)
    await manager.start(listener)
    return { listener, dialer }
  }

  it('leaves no AbortSignal.timeout behind on the listener (its timer would live 5 s per refusal)', async () => {
    const { listener, dialer } = await pair()
    const contact = encodeMessage({
      type: 'InboundContact',
      token: 'not-a-token',
      partyId: dialer.peerId.toString(),
      identityBundle: {},
      cadrePeerAddrs: []
    })
    const stacks = await timeoutStacks(async () => {
      for (let i = 0; i < 5; i++) {
        const options = guard()
        const stream = await dialer.dialProtocol(listener.getMultiaddrs()[0]!, PROTOCOL_ID, options)
        const lp = lpStream(stream)
        await lp.write(contact, options)
        const reply = decodeMessage((await lp.read(options)).subarray())
        expect(reply).toEqual({ type: 'ProvisioningResult', approved: false, reason: 'invalid-token' })
        await stream.close(options)
      }
    })
    expect(stacks.filter((s) => /listener-session|session-manager|session-base/.test(s))).toEqual([])
  })

  it('leaves no AbortSignal.timeout behind on the dialer either, and ends with the refusal it heard', async () => {
    const { listener, dialer } = await pair()
    const b = new SessionManager(REFUSING)
    managers.push(b)
    const link = {
      token: 'not-a-token-of-a',
      role: 'stock' as const,
      responderPeerAddrs: [listener.getMultiaddrs()[0]!.toString()]
    }
    const stacks = await timeoutStacks(async () => {
      for (let i = 0; i < 3; i++) {
        await expect(b.initiateBootstrap(link, dialer)).rejects.toMatchObject({
          name: 'RejectedError',
          reason: 'invalid-token'
        })
      }
    })
    expect(stacks.filter((s) => /dialer-session|session-manager|session-base/.test(s))).toEqual([])
  })
})
