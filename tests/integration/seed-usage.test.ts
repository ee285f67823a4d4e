/**
 * The seed's usage on real nodes: handleNewStream in both call forms (and a wrong call never rejects),
 * hooks written with the seed's signatures, `null` from validateToken, a missing tokenId, and identity
 * requirements in the seed's `{ email: true }` form.
 */
import type { Libp2p } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import {
  PROTOCOL_ID,
  SessionManager,
  deriveTokenId,
  formatLink,
  parseLink
} from '../../main/bootstrap/index.ts'
import type {
  BootstrapLink,
  InvalidStreamError,
  PartyRole,
  ProvisionResult,
  SessionHooks,
  TokenHookContext
} from '../../main/bootstrap/index.ts'
import { createTaleusNode } from '../../main/node/index.ts'

interface SeedToken {
  role: PartyRole
  identityRequirements?: Record<string, boolean>
  uses: number
}

/** Hooks written exactly as the seed writes them (no context argument used), recording what they saw. */
function seedHooks(tokens: Map<string, SeedToken>, seen: Record<string, unknown[]>): SessionHooks {
  const record = (name: string, ...args: unknown[]): void => {
    seen[name] = args
  }
  return {
    async validateToken(token: string) {
      const data = tokens.get(token)
      if (!data) return null
      return { role: data.role, identityRequirements: data.identityRequirements }
    },
    async markTokenUsed(token: string, sessionId: string, ctx?: TokenHookContext) {
      record('markTokenUsed', token, sessionId, ctx?.token.tokenId)
      const data = tokens.get(token)
      if (data) data.uses++
    },
    async validateIdentity(bundle, requirements) {
      record('validateIdentity', bundle, requirements)
      return true
    },
    async provisionDatabase(role, initiatorPeerId, respondentPeerId, sessionId): Promise<ProvisionResult> {
      record('provisionDatabase', role, sessionId)
      return {
        tally: {
          tallyId: `tally-${sessionId}`,
          createdBy: role,
          initiatorPeerId,
          respondentPeerId,
          createdAt: new Date().toISOString()
        },
        dbConnectionInfo: { nodes: ['/ip4/127.0.0.1/tcp/1'], credentials: 'c' }
      }
    }
  }
}

describe('the seed usage', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })

  async function nodes(): Promise<{ a: Libp2p; b: Libp2p }> {
    const a = await createTaleusNode()
    const b = await createTaleusNode()
    cleanup.push(async () => {
      await Promise.all([a.stop(), b.stop()])
    })
    return { a, b }
  }

  function linkTo(a: Libp2p, token: string, role: PartyRole): BootstrapLink {
    return {
      token,
      role,
      responderPeerAddrs: a.getMultiaddrs().map(String),
      identityRequirements: { email: true }
    }
  }

  for (const role of ['stock', 'foil'] as const) {
    it(`runs to a tally with seed-shaped hooks and the libp2p 2 handler form ({ stream, connection }), ${role}`, async () => {
      const { a, b } = await nodes()
      const tokens = new Map<string, SeedToken>([
        ['seed-token', { role, identityRequirements: { email: true }, uses: 0 }]
      ])
      const seenA: Record<string, unknown[]> = {}
      const manager = new SessionManager(seedHooks(tokens, seenA), { localPeerId: a.peerId.toString() })
      await a.handle(PROTOCOL_ID, (stream, connection) => manager.handleNewStream({ stream, connection }))
      const dialer = new SessionManager(seedHooks(new Map(), {}), {
        identityBundle: { email: 'ann@example.com' }
      })
      cleanup.push(async () => {
        await dialer.stop()
        await manager.stop()
      })

      const link = parseLink(formatLink(linkTo(a, 'seed-token', role)))
      expect(link.identityRequirements).toEqual(['email'])
      const result = await dialer.initiateBootstrap(link, b)
      expect(result.role).toBe(role)
      expect(tokens.get('seed-token')?.uses).toBe(1)
      // markTokenUsed(token, sessionId) as the seed writes it; the derived tokenId comes in the context
      expect(seenA.markTokenUsed?.[0]).toBe('seed-token')
      expect(typeof seenA.markTokenUsed?.[1]).toBe('string')
      expect(seenA.markTokenUsed?.[2]).toBe(deriveTokenId('seed-token'))
      // validateIdentity(bundle, requirements): the requirements as validateToken gave them
      expect(seenA.validateIdentity).toEqual([{ email: 'ann@example.com' }, { email: true }])
      if (role === 'stock') expect(seenA.provisionDatabase).toEqual(['stock', seenA.markTokenUsed?.[1]])
    })
  }

  it('null from validateToken is invalid-token; a missing required field is identity-required', async () => {
    const { a, b } = await nodes()
    const tokens = new Map<string, SeedToken>([
      ['t', { role: 'stock', identityRequirements: { email: true, name: false }, uses: 0 }]
    ])
    const manager = new SessionManager(seedHooks(tokens, {}))
    await manager.start(a)
    const dialer = new SessionManager(seedHooks(new Map(), {}))
    cleanup.push(async () => {
      await dialer.stop()
      await manager.stop()
    })
    await expect(dialer.initiateBootstrap(linkTo(a, 'unknown', 'stock'), b)).rejects.toMatchObject({
      name: 'RejectedError',
      reason: 'invalid-token'
    })
    await expect(
      dialer.initiateBootstrap(linkTo(a, 't', 'stock'), b, { identityBundle: { name: 'Ann' } })
    ).rejects.toMatchObject({ name: 'RejectedError', reason: 'identity-required' })
    expect(tokens.get('t')?.uses).toBe(0)
  })

  it('a wrong handler call never rejects: it refuses the stream and emits stream-error', async () => {
    const { a, b } = await nodes()
    const manager = new SessionManager(seedHooks(new Map(), {}))
    const errors: InvalidStreamError[] = []
    manager.addEventListener('stream-error', (evt) => errors.push(evt.detail))
    cleanup.push(async () => manager.stop())
    const unhandled: unknown[] = []
    const onUnhandled = (err: unknown): void => {
      unhandled.push(err)
    }
    process.on('unhandledRejection', onUnhandled)
    cleanup.push(async () => {
      process.off('unhandledRejection', onUnhandled)
    })

    // the seed's `({ stream }) => handleNewStream(stream)` under libp2p 3 passes undefined
    await a.handle(PROTOCOL_ID, (stream) =>
      manager.handleNewStream((stream as unknown as { stream: never }).stream)
    )
    const s1 = await b.dialProtocol(a.getMultiaddrs()[0]!, PROTOCOL_ID)
    await a.unhandle(PROTOCOL_ID)
    // a stream without its connection, and (with both) a manager that does not know its own peer id
    await a.handle(PROTOCOL_ID, async (stream, connection) => {
      await Promise.all([manager.handleNewStream(stream), manager.handleNewStream(stream, connection)])
    })
    const s2 = await b.dialProtocol(a.getMultiaddrs()[0]!, PROTOCOL_ID)
    await expect.poll(() => errors.length, { timeout: 10_000 }).toBe(3)
    expect(errors.map((e) => e.name)).toEqual([
      'InvalidStreamError',
      'InvalidStreamError',
      'InvalidStreamError'
    ])
    await expect.poll(() => s2.status, { timeout: 10_000 }).not.toBe('open')
    // a stream without its connection, alone: refused too (B is not left waiting for its step timeout)
    await a.unhandle(PROTOCOL_ID)
    await a.handle(PROTOCOL_ID, (stream) => manager.handleNewStream(stream))
    const s3 = await b.dialProtocol(a.getMultiaddrs()[0]!, PROTOCOL_ID)
    await expect.poll(() => errors.length, { timeout: 10_000 }).toBe(4)
    await expect.poll(() => s3.status, { timeout: 2000 }).not.toBe('open')
    s1.abort(new Error('done'))
    expect(unhandled).toEqual([])
  })
})
