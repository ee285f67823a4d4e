/**
 * The `taleus` CLI end to end, in child processes: `serve`, `token create/list/revoke`, `sessions`,
 * `tallies`, `dial` (success and rejection), bad arguments, no running node, and a clean SIGTERM.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { CreatedToken, TallyView, TokenView } from '../../preload/contract.ts'
import { BIN, ROOT, ensureBuilt } from '../helpers/built-cli.ts'

interface Run {
  code: number
  stdout: string
  stderr: string
}

function taleus(args: string[]): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code =
        err === null
          ? 0
          : typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : -1
      resolvePromise({ code, stdout, stderr })
    })
  })
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '')
}

describe('taleus CLI', () => {
  let dir: string
  let dialerDir: string
  let serve: ChildProcess
  let serveOut = ''
  let serveErr = ''
  let ready: { event: string; peerId: string; multiaddrs: string[]; api: string }
  const tokens: string[] = []

  beforeAll(async () => {
    ensureBuilt()
    dir = await mkdtemp(join(tmpdir(), 'taleus-cli-'))
    dialerDir = await mkdtemp(join(tmpdir(), 'taleus-cli-dialer-'))
    serve = spawn(
      process.execPath,
      [
        BIN,
        'serve',
        '--data-dir',
        dir,
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--no-mdns',
        // accepted (its effect: tests/unit/serve-options.test.ts and the guard's own tests)
        '--token-tally-burst',
        '5000'
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    serve.stdout?.setEncoding('utf8').on('data', (chunk: string) => (serveOut += chunk))
    serve.stderr?.setEncoding('utf8').on('data', (chunk: string) => (serveErr += chunk))
    await vi.waitFor(
      () => {
        if (serve.exitCode !== null) throw new Error(`serve exited ${serve.exitCode}: ${serveErr}`)
        expect(serveOut).toContain('\n')
      },
      { timeout: 30_000, interval: 20 }
    )
    ready = JSON.parse(lines(serveOut)[0] as string) as typeof ready
  })

  afterAll(async () => {
    if (serve?.exitCode === null) {
      serve.kill('SIGKILL')
    }
    await rm(dir, { recursive: true, force: true })
    await rm(dialerDir, { recursive: true, force: true })
  })

  it('serve prints one ready line with peer id, addresses and the API (no secret in it)', async () => {
    expect(lines(serveOut)).toHaveLength(1)
    expect(ready.event).toBe('ready')
    expect(ready.peerId).toMatch(/^12D3KooW/)
    expect(ready.multiaddrs).toEqual([
      expect.stringMatching(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${ready.peerId}$`))
    ])
    expect(ready.api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const secret = (await readFile(join(dir, 'api-secret'), 'utf8')).trim()
    expect(secret.length).toBeGreaterThanOrEqual(32)
    expect(serveOut).not.toContain(secret)
    expect((await stat(join(dir, 'api-secret'))).mode & 0o077).toBe(0)
    expect(JSON.parse(await readFile(join(dir, 'api.json'), 'utf8'))).toEqual({
      url: ready.api,
      pid: serve.pid
    })
    // Without the secret the API refuses.
    expect((await fetch(`${ready.api}/api/tokens`)).status).toBe(401)
  })

  it('serve gives the browser console URL with the secret in the fragment on stderr, when the console is built', async () => {
    const secret = (await readFile(join(dir, 'api-secret'), 'utf8')).trim()
    if (existsSync(join(ROOT, 'out/renderer/index.html'))) {
      // stderr is a pipe here, not a terminal: the secret itself is never written to it (issue D)
      await vi.waitFor(
        () =>
          expect(lines(serveErr)).toEqual([
            // one step to open it, without the secret (issue G)
            `taleus: console at ${ready.api} — open it with: taleus console --data-dir ${dir}`
          ]),
        { timeout: 10_000 }
      )
      expect(serveErr).not.toContain(secret)
      const page = await fetch(`${ready.api}/`)
      expect(page.status).toBe(200)
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'")
    } else {
      expect(serveErr).toBe('')
    }
  })

  it('token create --json prints the token with its link; token list shows it', async () => {
    const run = await taleus([
      'token',
      'create',
      '--data-dir',
      dir,
      '--role',
      'stock',
      '--uses',
      'unlimited',
      '--expires',
      '2h',
      '--label',
      'Front till',
      '--json'
    ])
    expect(run.code).toBe(0)
    const created = JSON.parse(run.stdout) as CreatedToken
    tokens.push(new URLSearchParams(created.link.split('?')[1]).get('t') as string)
    expect(created).toMatchObject({ role: 'stock', uses: 'unlimited', label: 'Front till', status: 'active' })
    expect(created.link).toMatch(/^taleus:bootstrap\?/)
    expect(created.expiresAt).toBeGreaterThan(Date.now())

    const plain = await taleus([
      'token',
      'create',
      '--data-dir',
      dir,
      '--role',
      'foil',
      '--require',
      'email,name',
      '--approval',
      'auto'
    ])
    expect(plain.code).toBe(0)
    expect(lines(plain.stdout)).toHaveLength(1)
    expect(plain.stdout).toMatch(/^taleus:bootstrap\?.*&i=email,name/)
    tokens.push(new URLSearchParams(plain.stdout.trim().split('?')[1]).get('t') as string)

    const list = await taleus(['token', 'list', '--data-dir', dir, '--json'])
    expect(list.code).toBe(0)
    const listed = JSON.parse(list.stdout) as TokenView[]
    expect(listed.map((t) => t.tokenId)).toContain(created.tokenId)
    const table = await taleus(['token', 'list', '--data-dir', dir])
    expect(table.stdout).toMatch(/^ID\s+LABEL/)
    expect(table.stdout).toContain('Front till')
  })

  it('dial bootstraps a tally (exit 0) that both sides list', async () => {
    const created = JSON.parse(
      (
        await taleus([
          'token',
          'create',
          '--data-dir',
          dir,
          '--role',
          'stock',
          '--label',
          'Dial me',
          '--json'
        ])
      ).stdout
    ) as CreatedToken
    tokens.push(new URLSearchParams(created.link.split('?')[1]).get('t') as string)
    const run = await taleus([
      'dial',
      created.link,
      '--data-dir',
      dialerDir,
      '--json',
      '--identity',
      'email=bo@example.com'
    ])
    expect(run.stderr).toContain('D_SEND_CONTACT')
    expect(run.code).toBe(0)
    const outcome = JSON.parse(run.stdout) as { ok: boolean; tallyId: string; remotePeerId: string }
    expect(outcome).toMatchObject({ ok: true, role: 'stock', remotePeerId: ready.peerId })

    await vi.waitFor(
      async () => {
        const tallies = JSON.parse(
          (await taleus(['tallies', '--data-dir', dir, '--json'])).stdout
        ) as TallyView[]
        expect(tallies.find((t) => t.tallyId === outcome.tallyId)).toMatchObject({
          status: 'confirmed',
          tokenLabel: 'Dial me'
        })
        // each try starts a `taleus` process: ~1 s alone on a loaded machine, past waitFor's default
      },
      { timeout: 30_000, interval: 200 }
    )
    const sessions = await taleus(['sessions', '--data-dir', dir])
    expect(sessions.code).toBe(0)
    expect(sessions.stdout).toContain(outcome.tallyId)
    expect(sessions.stdout).toContain('L_DONE')
    const newest = await taleus(['sessions', '--data-dir', dir, '--limit', '1', '--json'])
    expect(JSON.parse(newest.stdout) as unknown[]).toHaveLength(1)
  })

  it('dial of a revoked token exits non-zero with one stderr line naming token-revoked', async () => {
    const created = JSON.parse(
      (await taleus(['token', 'create', '--data-dir', dir, '--role', 'stock', '--json'])).stdout
    ) as CreatedToken
    tokens.push(new URLSearchParams(created.link.split('?')[1]).get('t') as string)
    const revoke = await taleus(['token', 'revoke', created.tokenId, '--data-dir', dir])
    expect(revoke.code).toBe(0)
    // newest first, a page at a time
    const newest = await taleus(['token', 'list', '--data-dir', dir, '--limit', '1', '--archived', '--json'])
    expect((JSON.parse(newest.stdout) as TokenView[]).map((t) => t.tokenId)).toEqual([created.tokenId])
    // its link again, then archived: the list marks it
    const again = await taleus(['token', 'link', created.tokenId, '--data-dir', dir])
    expect(again.stdout.trim()).toBe(created.link)
    expect((await taleus(['token', 'archive', created.tokenId, '--data-dir', dir])).stdout).toContain(
      'archived'
    )
    const archived = await taleus(['token', 'list', '--data-dir', dir, '--archived', '--limit', '1'])
    expect(archived.stdout).toMatch(/revoked \(archived\)/)
    const run = await taleus(['dial', created.link])
    expect(run.code).not.toBe(0)
    expect(run.stdout).toBe('')
    const reasonLines = lines(run.stderr).filter((l) => l.includes('token-revoked'))
    expect(reasonLines).toEqual(['taleus: rejected: token-revoked — this token was revoked'])
  })

  it('--version prints the version; approvals lists who waits (none here)', async () => {
    const version = await taleus(['--version'])
    expect(version.code).toBe(0)
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
    const approvals = await taleus(['approvals', '--data-dir', dir])
    expect(approvals.code).toBe(0)
    expect(approvals.stdout.trim()).toBe('(none)')
  })

  it('bad arguments: non-zero exit and one stderr line', async () => {
    for (const args of [
      ['token', 'create', '--data-dir', dir, '--role', 'bank'],
      ['token', 'create', '--data-dir', dir, '--role', 'stock', '--expires', 'soon'],
      ['token', 'create', '--data-dir', dir, '--role', 'stock', '--uses', '0'],
      ['token', 'create', '--role', 'stock'],
      ['token', 'list', '--data-dir', dir, '--limit', '0'],
      ['token', 'list', '--data-dir', dir, '--before-id', 'tk_x'],
      ['tallies', '--data-dir', dir, '--before-id', 'x'],
      ['sessions', '--data-dir', dir, '--limit', 'lots'],
      ['dial', 'not-a-link'],
      ['dial', 'x', '--identity', 'no-equals-sign'],
      ['serve', '--data-dir', dir, '--token-tally-burst', 'lots'],
      ['frobnicate']
    ]) {
      const run = await taleus(args)
      expect(run.code, args.join(' ')).not.toBe(0)
      expect(lines(run.stderr), args.join(' ')).toHaveLength(1)
      expect(run.stderr, args.join(' ')).toMatch(/^taleus: /)
    }
  })

  it('commands without a running node fail with one clear line', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'taleus-cli-none-'))
    try {
      const run = await taleus(['sessions', '--data-dir', empty])
      expect(run.code).toBe(1)
      expect(lines(run.stderr)).toEqual([expect.stringContaining('no taleus node is running')])
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  })

  it('SIGTERM stops serve with exit 0, and no token ever reached its output', async () => {
    const exited = new Promise<number | null>((resolvePromise) =>
      serve.once('exit', (code) => resolvePromise(code))
    )
    serve.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(existsSync(join(dir, 'api.json'))).toBe(false)
    expect(tokens.length).toBeGreaterThanOrEqual(4)
    for (const token of tokens) {
      expect(token.length).toBeGreaterThan(8)
      expect(serveOut).not.toContain(token)
      expect(serveErr).not.toContain(token)
    }
  })
})
