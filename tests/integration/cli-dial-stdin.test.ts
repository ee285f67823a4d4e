/**
 * `taleus dial` keeps its link out of the process arguments: `dial -` reads it from stdin and
 * `dial --link-file F` from a file, with no warning; a link in the arguments still works but says on
 * stderr that other local users can read it; `--help` says how. Child processes of the built CLI.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { CreatedToken } from '../../preload/contract.ts'
import { BIN, ROOT, ensureBuilt } from '../helpers/built-cli.ts'

interface Run {
  code: number
  stdout: string
  stderr: string
}

function taleus(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: ROOT, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
        resolvePromise({ code, stdout, stderr })
      }
    )
    child.stdin?.end(stdin ?? '')
  })
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '')
const WARNING = /^taleus: warning: a link in the arguments .*visible to other local users/

describe('taleus dial: the link from stdin or a file', () => {
  let dir: string
  let serve: ChildProcess
  let serveOut = ''
  let serveErr = ''

  async function newLink(): Promise<string> {
    const run = await taleus(['token', 'create', '--data-dir', dir, '--role', 'stock', '--json'])
    expect(run.code, run.stderr).toBe(0)
    return (JSON.parse(run.stdout) as CreatedToken).link
  }

  beforeAll(async () => {
    ensureBuilt()
    dir = await mkdtemp(join(tmpdir(), 'taleus-cli-dial-stdin-'))
    serve = spawn(
      process.execPath,
      [BIN, 'serve', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }
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
  })

  afterAll(async () => {
    if (serve?.exitCode === null) {
      const exited = new Promise((resolvePromise) => serve.once('exit', resolvePromise))
      serve.kill('SIGTERM')
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  })

  it('`dial -` bootstraps with the link from stdin, without a warning', async () => {
    const run = await taleus(['dial', '-', '--json'], `${await newLink()}\n`)
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, role: 'stock' })
    expect(run.stderr).not.toMatch(/warning/)
  })

  it('`dial --link-file F` bootstraps with the link from the file, without a warning', async () => {
    const file = join(dir, 'link.txt')
    await writeFile(file, `${await newLink()}\n`, { mode: 0o600 })
    const run = await taleus(['dial', '--link-file', file, '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, role: 'stock' })
    expect(run.stderr).not.toMatch(/warning/)
  })

  it('a link in the arguments still works, with one warning line on stderr', async () => {
    const run = await taleus(['dial', await newLink(), '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(lines(run.stderr).filter((l) => WARNING.test(l))).toHaveLength(1)
    expect(lines(run.stderr)[0]).toMatch(WARNING)
  })

  it('no link, or two, is a usage error (exit 2, one line); --help names stdin and --link-file', async () => {
    for (const [args, stdin] of [
      [['dial'], undefined],
      [['dial', '-'], ''],
      [['dial', 'taleus://x', '--link-file', join(dir, 'link.txt')], undefined]
    ] as const) {
      const run = await taleus([...args], stdin)
      expect(run.code, args.join(' ')).toBe(2)
      expect(lines(run.stderr), args.join(' ')).toHaveLength(1)
    }
    const help = await taleus(['dial', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('--link-file')
    expect(help.stdout).toContain('taleus dial - < link.txt')
    expect(help.stdout).toMatch(/visible to other local users/)
  })
})
