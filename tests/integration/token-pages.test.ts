/**
 * Tokens come a page at a time over the real HTTP API: a customer display archives a token per customer,
 * so a node that served for a year must not answer every list with all of them. An export still holds
 * every token its filters select.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSecret } from '../../main/api/auth.ts'
import { startApiServer, type ApiServer } from '../../main/api/http-server.ts'
import { createConsoleService, type ConsoleService } from '../../main/service/index.ts'
import type { CreatedToken, ExportResult, TokenView } from '../../preload/contract.ts'
import { apiCall, type ApiReply } from '../helpers/api-call.ts'

const TOKENS = 530
const ARCHIVED = 20

describe('listTokens pages', () => {
  let dir: string
  let service: ConsoleService
  let api: ApiServer
  const secret = createSecret()
  const archivedIds = new Set<string>()
  const allIds: string[] = []

  const call = <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiReply<T>> =>
    apiCall<T>(api.url, secret, method, path, body)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-token-pages-'))
    service = await createConsoleService({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    await service.start()
    api = await startApiServer({ api: service, secret })
    for (let i = 0; i < TOKENS; i++) {
      const created = (await call<CreatedToken>('POST', '/api/tokens', { role: 'stock', label: `t${i}` }))
        .json
      allIds.push(created.tokenId)
      if (i < ARCHIVED) {
        await call('POST', '/api/tokens/revoke', { tokenId: created.tokenId })
        await call('POST', '/api/tokens/archive', { tokenId: created.tokenId })
        archivedIds.add(created.tokenId)
      }
    }
  }, 180_000)

  afterAll(async () => {
    await api?.close().catch(() => {})
    await service?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('without a query: the newest 500, archived ones left out', async () => {
    const page = (await call<TokenView[]>('GET', '/api/tokens')).json
    expect(page).toHaveLength(500)
    expect(page.some((t) => archivedIds.has(t.tokenId))).toBe(false)
    for (let i = 1; i < page.length; i++)
      expect(page[i - 1]!.createdAt).toBeGreaterThanOrEqual(page[i]!.createdAt)
    // the oldest unarchived token is the one left for the next page
    expect(page.some((t) => t.tokenId === allIds[ARCHIVED])).toBe(false)
  })

  it('a walk with before and beforeId meets every token once, archived ones included', async () => {
    const seen: string[] = []
    let query = 'archived=true&limit=64'
    for (let pages = 0; pages < 20; pages++) {
      const page = (await call<TokenView[]>('GET', `/api/tokens?${query}`)).json
      seen.push(...page.map((t) => t.tokenId))
      if (page.length < 64) break
      const last = page.at(-1)!
      query = `archived=true&limit=64&before=${last.createdAt}&beforeId=${last.tokenId}`
    }
    expect(seen).toHaveLength(TOKENS)
    expect(new Set(seen)).toEqual(new Set(allIds))
  })

  it('the search finds one token by its id among all of them (how a display fetches an archived code)', async () => {
    const id = allIds[0]!
    const found = (await call<TokenView[]>('GET', `/api/tokens?archived=true&limit=5&q=${id}`)).json
    expect(found.map((t) => t.tokenId)).toEqual([id])
  })

  it('an export holds every token its filters select, not a page', async () => {
    const all = (
      await call<ExportResult>('POST', '/api/export', {
        what: 'tokens',
        format: 'json',
        query: { archived: true }
      })
    ).json
    expect(all.rows).toBe(TOKENS)
    const live = (await call<ExportResult>('POST', '/api/export', { what: 'tokens', format: 'json' })).json
    expect(live.rows).toBe(TOKENS - ARCHIVED)
  })

  it('a bad page is refused with bad-input', async () => {
    for (const query of ['limit=0', 'limit=abc', 'before=soon', 'limit=1.5']) {
      const reply = await call<{ error: { code: string } }>('GET', `/api/tokens?${query}`)
      expect(reply.status, query).toBe(400)
      expect(reply.json.error.code, query).toBe('bad-input')
    }
  })
})
