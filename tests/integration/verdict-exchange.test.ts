/**
 * The verdict exchange (`/taleus/verdict/1.0.0`, issue H): only the tally's counterparty learns its verdict
 * (a third party gets the very bytes an unknown tally gets); asking is idempotent; a pending tally whose
 * counterparty never comes back stays pending and says when it asks next; `taleus dial` that lost the end
 * of the exchange says so, asks the merchant and settles.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import {
  SessionManager,
  VERDICT_PROTOCOL_ID,
  VerdictService,
  formatLink
} from '../../main/bootstrap/index.ts'
import type { VerdictStatus } from '../../main/bootstrap/index.ts'
import { PENDING_CHECK_LINE, dial } from '../../main/cli/dial.ts'
import { talliesTable } from '../../main/cli/format.ts'
import { createTaleusNode } from '../../main/node/index.ts'
import { createConsoleService } from '../../main/service/index.ts'
import { openStore } from '../../main/store/index.ts'
import { MemoryHooks, deadPort } from './protocol-helpers.ts'

const nodes: Libp2p[] = []
const dirs: string[] = []
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

async function node(): Promise<Libp2p> {
  const n = await createTaleusNode()
  nodes.push(n)
  return n
}

/** Sends one raw query frame and returns every byte the answerer sent back, until its end. */
async function rawAsk(from: Libp2p, to: Libp2p, tallyId: string): Promise<Uint8Array> {
  const stream = await from.dialProtocol(to.getMultiaddrs()[0]!, VERDICT_PROTOCOL_ID)
  const lp = lpStream(stream)
  await lp.write(new TextEncoder().encode(JSON.stringify({ type: 'VerdictQuery', tallyId })))
  await stream.close()
  const chunks: Uint8Array[] = []
  for await (const chunk of stream) chunks.push(chunk instanceof Uint8Array ? chunk : chunk.subarray())
  return Buffer.concat(chunks)
}

describe('verdict exchange', () => {
  it('the counterparty gets the verdict; a third party gets the same bytes as for an unknown tally; asking changes nothing', async () => {
    const [a, b, c] = await Promise.all([node(), node(), node()])
    const book = new Map<string, { counterparty: string; status: VerdictStatus }>([
      ['t-b', { counterparty: b.peerId.toString(), status: 'confirmed' }]
    ])
    const asked: string[] = []
    const service = new VerdictService({
      lookupVerdict: async (tallyId, remotePeerId) => {
        asked.push(`${tallyId}@${remotePeerId === b.peerId.toString() ? 'B' : 'other'}`)
        const t = book.get(tallyId)
        return t !== undefined && t.counterparty === remotePeerId ? t.status : undefined
      }
    })
    await service.start(a)
    const asker = new VerdictService({ lookupVerdict: async () => undefined })
    const target = { peerId: a.peerId.toString(), addrs: a.getMultiaddrs().map(String) }

    expect(await asker.ask(b, target, 't-b')).toBe('confirmed')
    // a third party about B's tally, and about a tally that does not exist: byte for byte the same refusal
    const third = await rawAsk(c, a, 't-b')
    const unknown = await rawAsk(c, a, 'no-such-tally')
    const unknownFromB = await rawAsk(b, a, 'no-such-tally')
    expect(new TextDecoder().decode(third)).toContain('"type":"VerdictRefused"')
    expect(Buffer.from(third).equals(Buffer.from(unknown))).toBe(true)
    expect(Buffer.from(third).equals(Buffer.from(unknownFromB))).toBe(true)
    expect(new TextDecoder().decode(third)).not.toContain('t-b')
    expect(await asker.ask(c, target, 't-b')).toBe('refused')

    // idempotent: twice in a row and both at once give the same answer and change nothing
    const again = await Promise.all([
      asker.ask(b, target, 't-b'),
      asker.ask(b, target, 't-b'),
      asker.ask(b, target, 't-b')
    ])
    expect(again).toEqual(['confirmed', 'confirmed', 'confirmed'])
    expect(book.get('t-b')).toEqual({ counterparty: b.peerId.toString(), status: 'confirmed' })
    expect(asked.filter((q) => q === 't-b@other')).toHaveLength(2)
    await service.stop()
  })

  it('a malformed query is reset, never answered with a refusal', async () => {
    const [a, b] = await Promise.all([node(), node()])
    const service = new VerdictService({ lookupVerdict: async () => undefined })
    await service.start(a)
    const stream = await b.dialProtocol(a.getMultiaddrs()[0]!, VERDICT_PROTOCOL_ID)
    const lp = lpStream(stream)
    await lp.write(new TextEncoder().encode(JSON.stringify({ type: 'VerdictQuery', tallyId: 't', extra: 1 })))
    const err = await lp.read({ signal: AbortSignal.timeout(10_000) }).catch((e: unknown) => e)
    expect((err as Error).name).not.toBe(undefined)
    await service.stop()
  })
})

describe('a pending tally whose counterparty never comes back', () => {
  let stop: (() => Promise<void>) | undefined
  afterEach(async () => {
    await stop?.()
    stop = undefined
  })

  it('stays pending, says when it asks next, and taleus dial says it is still pending', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'taleus-pending-'))
    dirs.push(dir)
    // a dialer's draft from a run that died: its listener (a peer that no longer exists) at a dead port
    const gone = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const store = await openStore(dir)
    const hooks = store.hooks({ peerId: 'self', multiaddrs: () => [] })
    const ctx = {
      sessionId: 'lost-1',
      direction: 'outbound' as const,
      remotePeerId: gone,
      signal: new AbortController().signal,
      counterparty: { cadrePeerAddrs: [`/ip4/127.0.0.1/tcp/${await deadPort()}/p2p/${gone}`] }
    }
    const { tally } = await hooks.provisionDatabase('foil', 'self', gone, 'lost-1', ctx)
    await store.close()

    const service = await createConsoleService({
      dataDir: dir,
      mdns: false,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      verdictRetry: { initialMs: 50, maxMs: 400 }
    })
    stop = () => service.stop()
    await service.start()
    const still = await service.checkPendingTallies()
    expect(still.map((t) => t.tallyId)).toEqual([tally.tallyId])
    await new Promise((res) => setTimeout(res, 1000))
    const [view] = await service.listTallies()
    expect(view?.status).toBe('pending')
    expect(typeof view?.nextCheckAt).toBe('number')
    expect(talliesTable([view!])).toMatch(/pending \(next check \d{4}-/)
    await service.stop()
    stop = undefined

    const lines: string[] = []
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((text) => {
      lines.push(String(text))
      return true
    })
    try {
      expect(await dial({ dataDir: dir, json: false })).toBeUndefined()
    } finally {
      spy.mockRestore()
    }
    expect(lines.join('')).toContain(`tally ${tally.tallyId}: still pending (the merchant did not answer)`)
    const reopened = await openStore(dir)
    expect(reopened.getTally(tally.tallyId)?.status).toBe('pending')
    await reopened.close()
  }, 60_000)
})

describe('taleus dial that lost the end of the exchange', () => {
  it('says the merchant may have opened the tally, asks it, and reports the confirmed tally', async () => {
    const a = await node()
    const hooks = new MemoryHooks('A')
    hooks.addToken('lost-end-token', 'foil', {}, undefined)
    const verdicts = new Map<string, 'confirmed' | 'abandoned'>()
    // foil: A confirms B's database, then its connection to B dies before its Ack (the crash window of issue H)
    hooks.override.settleTally = async (
      id: string,
      outcome: 'confirmed' | 'abandoned',
      ctx: { remotePeerId: string }
    ) => {
      if (outcome === 'confirmed') {
        verdicts.set(id, 'confirmed')
        for (const conn of a.getConnections(peerIdFromString(ctx.remotePeerId)))
          conn.abort(new Error('killed'))
      } else if (!verdicts.has(id)) verdicts.set(id, outcome)
    }
    const manager = new SessionManager(hooks, { cadrePeerAddrs: () => a.getMultiaddrs().map(String) })
    await manager.start(a)
    const service = new VerdictService({
      lookupVerdict: async (tallyId, remotePeerId) => {
        const t = hooks.tallies.get(tallyId)
        if (t === undefined || t.result.tally.initiatorPeerId !== remotePeerId) return undefined
        return verdicts.get(tallyId) ?? 'unsettled'
      }
    })
    await service.start(a)
    const dir = await mkdtemp(join(tmpdir(), 'taleus-lost-end-'))
    dirs.push(dir)
    const link = formatLink({
      token: 'lost-end-token',
      role: 'foil',
      responderPeerAddrs: a.getMultiaddrs().map(String)
    })
    const lines: string[] = []
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((text) => {
      lines.push(String(text))
      return true
    })
    let outcome
    try {
      outcome = await dial({ link, dataDir: dir, json: false })
    } finally {
      spy.mockRestore()
      await service.stop()
      await manager.stop()
    }
    expect(lines.join('')).toContain(PENDING_CHECK_LINE)
    expect(outcome).toMatchObject({ ok: true, role: 'foil', remotePeerId: a.peerId.toString() })
    const id = (outcome as { tallyId: string }).tallyId
    expect(verdicts.get(id)).toBe('confirmed')
    const store = await openStore(dir)
    expect(store.getTally(id)?.status).toBe('confirmed')
    await store.close()
  }, 60_000)
})
