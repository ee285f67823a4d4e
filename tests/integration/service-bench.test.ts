/**
 * The synthetic-session route for load tests: absent unless TALEUS_BENCH=1, behind the API secret when
 * present, and its sessions flow through the real session table and event stream.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { startApiServer } from '../../main/api/http-server.ts'
import { BENCH_SESSIONS_PATH } from '../../main/service/bench-sessions.ts'
import { createConsoleService, type ConsoleService } from '../../main/service/index.ts'
import type { ConsoleEvent } from '../../preload/contract.ts'

const SECRET = 'bench-test-secret-0123456789'

function post(base: string, body: unknown, secret = SECRET): Promise<Response> {
  return fetch(base + BENCH_SESSIONS_PATH, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
}

describe('synthetic sessions (TALEUS_BENCH)', () => {
  let dir: string
  let service: ConsoleService

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-bench-'))
    service = await createConsoleService({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    await service.start()
  })
  afterAll(async () => {
    await service.stop()
    await rm(dir, { recursive: true, force: true })
  })
  afterEach(() => {
    vi.unstubAllEnvs()
  })

  it('is off by default: no route and the method refuses', async () => {
    vi.stubEnv('TALEUS_BENCH', '')
    const api = await startApiServer({ api: service, secret: SECRET })
    try {
      const res = await post(api.url, { count: 5 })
      expect(res.status).toBe(404)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unknown-command')
      await expect(service.injectSyntheticSessions({ count: 5 })).rejects.toMatchObject({
        name: 'ApiError',
        code: 'not-found'
      })
      expect(await service.listSessions()).toHaveLength(0)
    } finally {
      await api.close()
    }
  })

  it('with TALEUS_BENCH=1 needs the secret and pushes sessions through the table and stream', async () => {
    vi.stubEnv('TALEUS_BENCH', '1')
    const api = await startApiServer({ api: service, secret: SECRET })
    const seen = new Map<string, string>()
    const unsubscribe = service.subscribe((events: ConsoleEvent[]) => {
      for (const e of events) if (e.kind === 'session') seen.set(e.session.sessionId, e.session.state)
    })
    try {
      expect((await post(api.url, { count: 5 }, 'wrong-secret')).status).toBe(401)
      expect((await post(api.url, { count: 0 })).status).toBe(400)
      expect((await post(api.url, { count: 'many' })).status).toBe(400)

      const res = await post(api.url, { count: 250 })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ injected: 250 })
      const rows = await service.listSessions()
      expect(rows).toHaveLength(250)
      expect(rows.filter((r) => r.state === 'L_DONE')).toHaveLength(225)
      expect(rows.filter((r) => r.state === 'L_FAILED' && r.reason === 'identity-rejected')).toHaveLength(25)
      expect(rows.every((r) => r.done)).toBe(true)
      // Subscribers get the final state of every session (intermediate ones may be folded by the batcher).
      await vi.waitFor(() => {
        expect(seen.size).toBe(250)
        expect([...seen.values()].filter((s) => s === 'L_DONE' || s === 'L_FAILED')).toHaveLength(250)
      })
      // Nothing synthetic reaches the store.
      expect(await service.listAudit({ limit: 10 })).toHaveLength(0)
      expect(await service.listTallies()).toHaveLength(0)
    } finally {
      unsubscribe()
      await api.close()
    }
  })
})
