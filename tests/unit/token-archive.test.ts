import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { doctor } from '../../main/cli/doctor.ts'
import { openStore } from '../../main/store/merchant-store.ts'
import type { LowdbMerchantStore } from '../../main/store/merchant-store.ts'
import { TOKEN_ARCHIVE_FILE, TokenBook } from '../../main/store/token-book.ts'
import { sealLine } from '../../main/store/journal.ts'
import { hashToken } from '../../main/store/token-secret.ts'

interface TokensOnDisk {
  tokens: Record<string, { archived?: boolean; revoked?: boolean }>
}

async function tokensJson(dir: string): Promise<TokensOnDisk> {
  return JSON.parse(await readFile(join(dir, 'tokens.json'), 'utf8')) as TokensOnDisk
}

async function archiveLines(
  dir: string
): Promise<Array<{ tokenId: string; archived?: boolean; used?: number }>> {
  const text = await readFile(join(dir, TOKEN_ARCHIVE_FILE), 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { tokenId: string })
}

/** A served customer display token: created, used up by its one customer, archived. */
async function serveOne(store: LowdbMerchantStore): Promise<string> {
  const { view } = await store.createToken({
    role: 'stock',
    mode: 'per-customer',
    displayId: 'dp_t'
  } as never)
  await store.revokeToken(view.tokenId)
  await store.archiveToken(view.tokenId)
  return view.tokenId
}

describe('token archive (lowdb)', () => {
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-archive-'))
  })

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('an archived token leaves tokens.json for the archive; it is still listed, shown and refused by name', async () => {
    const store = await openStore(dir)
    const { view, token } = await store.createToken({ role: 'stock', label: 'old QR' })
    await store.revokeToken(view.tokenId)
    await store.archiveToken(view.tokenId)
    await store.close()

    expect(Object.keys((await tokensJson(dir)).tokens)).toEqual([])
    expect(await archiveLines(dir)).toMatchObject([{ tokenId: view.tokenId, archived: true }])

    const again = await openStore(dir)
    try {
      expect(again.getToken(view.tokenId)).toMatchObject({
        label: 'old QR',
        status: 'revoked',
        archived: true
      })
      expect(again.listTokens().map((t) => t.tokenId)).toEqual([view.tokenId])
      expect(again.tokenSecret(view.tokenId)).toBe(token)
      const hooks = again.hooks({ peerId: 'peer-A', multiaddrs: () => [] })
      const ctx = {
        sessionId: 's1',
        direction: 'inbound' as const,
        remotePeerId: 'peer-B',
        signal: new AbortController().signal
      }
      await expect(hooks.validateToken(token, ctx)).rejects.toMatchObject({
        name: 'RejectedError',
        reason: 'token-revoked'
      })
    } finally {
      await again.close()
    }
  })

  it('tokens.json holds only the tokens in play however many customers a display served', async () => {
    const store = await openStore(dir)
    const served: string[] = []
    for (let i = 0; i < 60; i++) served.push(await serveOne(store))
    const { view: current } = await store.createToken({ role: 'stock', label: 'current' })
    await store.close()
    expect(Object.keys((await tokensJson(dir)).tokens)).toEqual([current.tokenId])
    expect((await archiveLines(dir)).map((l) => l.tokenId)).toEqual(served)
    const again = await openStore(dir)
    expect(again.listTokens()).toHaveLength(61)
    await again.close()
  })

  it('a token in both files after a crash is the archive’s, and tokens.json is rewritten without it', async () => {
    const store = await openStore(dir)
    const { view } = await store.createToken({ role: 'stock', uses: 1 })
    await store.revokeToken(view.tokenId)
    await store.close()
    const live = (await tokensJson(dir)).tokens[view.tokenId]
    // what a kill -9 between the archive's append and the rewrite leaves
    await writeFile(
      join(dir, TOKEN_ARCHIVE_FILE),
      sealLine(JSON.stringify({ ...live, archived: true })) + '\n'
    )

    const again = await openStore(dir)
    expect(again.getToken(view.tokenId)).toMatchObject({ archived: true, status: 'revoked' })
    expect(again.listTokens()).toHaveLength(1)
    await again.close()
    expect((await tokensJson(dir)).tokens).toEqual({})
  })

  it('tokens archived in tokens.json by an older version move to the archive at open', async () => {
    const store = await openStore(dir)
    const { view } = await store.createToken({ role: 'stock' })
    await store.revokeToken(view.tokenId)
    await store.close()
    const file = await tokensJson(dir)
    ;(file.tokens[view.tokenId] as { archived?: boolean }).archived = true
    await writeFile(join(dir, 'tokens.json'), JSON.stringify(file))

    const again = await openStore(dir)
    expect(again.getToken(view.tokenId)).toMatchObject({ archived: true })
    await again.close()
    expect((await tokensJson(dir)).tokens).toEqual({})
    expect(await archiveLines(dir)).toMatchObject([{ tokenId: view.tokenId, archived: true }])
  })

  it('a change of an archived token is appended to the archive and survives a reopen', async () => {
    const book = await TokenBook.open(join(dir, 'tokens.json'))
    const record = await book.add({ role: 'stock', uses: 1 }, 'tk_a', hashToken('text-a'), 1)
    record.used = 1
    await book.archive(record)
    await book.change(
      () => {
        record.used = 0
      },
      () => {},
      record
    )
    await book.close()
    expect(Object.keys((await tokensJson(dir)).tokens)).toEqual([])
    const again = await TokenBook.open(join(dir, 'tokens.json'))
    expect(again.get('tk_a')).toMatchObject({ used: 0, archived: true })
    expect(again.find('text-a')?.tokenId).toBe('tk_a')
    await again.close()
  })

  it('a change made while the archive line is written reaches the archive too', async () => {
    const book = await TokenBook.open(join(dir, 'tokens.json'))
    const record = await book.add({ role: 'stock', uses: 1 }, 'tk_b', hashToken('text-b'), 1)
    record.used = 1
    const archiving = book.archive(record)
    // a session's give-back lands while the first line is on its way
    await book.change(
      () => {
        record.used = 0
      },
      () => {},
      record
    )
    await archiving
    await book.close()
    const again = await TokenBook.open(join(dir, 'tokens.json'))
    expect(again.get('tk_b')).toMatchObject({ used: 0, archived: true })
    await again.close()
    expect((await tokensJson(dir)).tokens).toEqual({})
  })

  it('a damaged archive line refuses the open with JournalCorruptError; doctor finds and repairs it', async () => {
    const store = await openStore(dir)
    await serveOne(store)
    const kept = await serveOne(store)
    await store.close()
    const text = await readFile(join(dir, TOKEN_ARCHIVE_FILE), 'utf8')
    await writeFile(join(dir, TOKEN_ARCHIVE_FILE), text.replace('"role":"stock"', '"role":"stocc"'))
    await expect(openStore(dir)).rejects.toMatchObject({ name: 'JournalCorruptError' })

    const archive = (reports: Awaited<ReturnType<typeof doctor>>) =>
      reports.find((r) => r.file.endsWith(TOKEN_ARCHIVE_FILE))
    expect(archive(await doctor({ dataDir: dir }))).toMatchObject({ lines: 2, damaged: [{ line: 1 }] })
    await doctor({ dataDir: dir, repair: true })
    const again = await openStore(dir)
    expect(again.listTokens().map((t) => t.tokenId)).toEqual([kept])
    await again.close()
  })
})
