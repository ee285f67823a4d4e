/**
 * The integrator's path, as an outsider takes it: `npm pack` this repository, `npm install` the tarball into
 * an empty project (plain install, the registry for everything else), type-check the Basic Usage from
 * docs/library.md with `tsc --strict` (NodeNext, no special flags), then run it with two real libp2p nodes to
 * a confirmed tally, stock and foil; and the installed `taleus` command starts.
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/built-cli.ts'

const run = promisify(execFile)
const NPM_TIMEOUT_MS = 300_000

/** The code block that follows `<!-- example: NAME -->` in a markdown file. */
export function exampleFrom(markdown: string, name: string): string {
  const marker = `<!-- example: ${name} -->`
  const at = markdown.indexOf(marker)
  if (at === -1) throw new Error(`docs/library.md has no ${marker}`)
  const block = /```ts\n([\s\S]*?)\n```/.exec(markdown.slice(at))
  if (block?.[1] === undefined) throw new Error(`no code block after ${marker}`)
  return block[1]
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    timeout: NPM_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024
  })
  return stdout
}

/** `tsc --init`'s own defaults (strict, skipLibCheck) with NodeNext: what an integrator starts from. */
const COMPILER_OPTIONS = {
  strict: true,
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  skipLibCheck: true,
  outDir: 'build'
}

describe('taleus as an installed package', () => {
  let project = ''

  /** tsc on one file of the consumer project with `options`: its output ('' when it checks clean). */
  async function compile(file: string, options: Record<string, unknown>): Promise<string> {
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: options, files: [file] })
    )
    const bin = join(project, 'node_modules/typescript/bin/tsc')
    return run(process.execPath, [bin, '-p', 'tsconfig.json'], { cwd: project }).then(
      ({ stdout }) => stdout,
      (err: { stdout?: string }) => err.stdout ?? String(err)
    )
  }
  let packed = ''
  let installed = 0

  beforeAll(async () => {
    for (const built of ['out/lib/bootstrap.js', 'out/lib/cli.js', 'out/types/bootstrap/index.d.ts']) {
      if (!existsSync(join(ROOT, built))) throw new Error(`${built} is missing: run \`npm run build\` first`)
    }
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>
      devDependencies: Record<string, string>
    }
    project = await mkdtemp(join(tmpdir(), 'taleus-consumer-'))
    // the build ran already (npm test builds first): pack what is there instead of building again
    const name = (await npm(['pack', '--ignore-scripts', '--pack-destination', project], ROOT)).trim()
    packed = join(project, name.split('\n').pop() as string)
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' })
    )
    const wanted = (n: string): string => `${n}@${pkg.dependencies[n] ?? pkg.devDependencies[n]}`
    await npm(['install', '--prefer-offline', packed], project)
    const lock = JSON.parse(await readFile(join(project, 'node_modules/.package-lock.json'), 'utf8')) as {
      packages: Record<string, unknown>
    }
    installed = Object.keys(lock.packages).length
    await npm(
      [
        'install',
        '--prefer-offline',
        wanted('libp2p'),
        wanted('@libp2p/tcp'),
        wanted('@libp2p/crypto'),
        wanted('@chainsafe/libp2p-noise'),
        wanted('@chainsafe/libp2p-yamux'),
        wanted('typescript'),
        wanted('@types/node')
      ],
      project
    )
  }, NPM_TIMEOUT_MS * 2)

  afterAll(async () => {
    if (project !== '') await rm(project, { recursive: true, force: true })
  })

  it('ships compiled JavaScript, declarations and the CLI, and none of the console-only packages', async () => {
    const files = (await run('tar', ['-tzf', packed])).stdout.split('\n')
    expect(files).toContain('package/out/lib/bootstrap.js')
    expect(files).toContain('package/out/lib/cli.js')
    expect(files).toContain('package/out/types/bootstrap/index.d.ts')
    expect(files).toContain('package/out/lib/tallydb.js')
    expect(files).toContain('package/out/types/tallydb/index.d.ts')
    // library.md's links to the wire protocol resolve inside the package
    expect(files).toContain('package/docs/library.md')
    expect(files).toContain('package/docs/protocol.md')
    expect(files.some((f) => f.startsWith('package/main/'))).toBe(false)
    expect(files.some((f) => f.startsWith('package/tests/'))).toBe(false)
    for (const consoleOnly of ['electron', 'svelte', 'lowdb', 'commander', 'qrcode', 'vite']) {
      expect(existsSync(join(project, 'node_modules', consoleOnly)), consoleOnly).toBe(false)
    }
    console.info(`installing the tarball alone pulled ${installed} packages`)
  })

  it('type-checks the Basic Usage of docs/library.md with tsc --strict (NodeNext) and runs it, stock and foil', async () => {
    const doc = await readFile(join(ROOT, 'docs/library.md'), 'utf8')
    await writeFile(join(project, 'basic-usage.ts'), exampleFrom(doc, 'basic-usage.ts'))
    const tsc = async (options: Record<string, unknown>): Promise<string> =>
      compile('basic-usage.ts', options)
    expect(await tsc(COMPILER_OPTIONS)).toBe('')
    // and with every declaration checked: nothing in taleus's .d.ts or the example fails (libp2p's own
    // yamux 8 declarations do, against @libp2p/interface 3: docs/library.md says so)
    const full = await tsc({ ...COMPILER_OPTIONS, skipLibCheck: false, noEmit: true })
    const ours = full.split('\n').filter((l) => /^(basic-usage\.ts|node_modules\/taleus\/)/.test(l))
    expect(ours).toEqual([])

    for (const role of ['stock', 'foil']) {
      // a plain node, no test setup: the library must bring its own Node 20 polyfill
      const { stdout } = await run(process.execPath, ['build/basic-usage.js', role], {
        cwd: project,
        timeout: 60_000
      })
      expect(stdout, role).toContain('Bootstrap successful!')
      expect(stdout, role).toContain('customer tally: confirmed')
      expect(stdout, role).toContain('merchant tally: confirmed')
    }
  }, 180_000)

  it('a wallet on taleus/bootstrap + taleus/tallydb (docs/library.md) bootstraps with the packed `taleus serve`, stock and foil', async () => {
    const doc = await readFile(join(ROOT, 'docs/library.md'), 'utf8')
    await writeFile(join(project, 'wallet.ts'), exampleFrom(doc, 'wallet.ts'))
    const tsc = await compile('wallet.ts', COMPILER_OPTIONS)
    expect(tsc).toBe('')

    const bin = join(project, 'node_modules/.bin/taleus')
    const merchant = join(project, 'merchant')
    const serve = spawn(
      bin,
      ['serve', '--data-dir', merchant, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'],
      {
        cwd: project,
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    try {
      await new Promise<void>((resolve, reject) => {
        let out = ''
        serve.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d
          if (out.includes('"event":"ready"')) resolve()
        })
        serve.once('exit', (code) => reject(new Error(`taleus serve exited (${code})`)))
      })
      const wallets = new Set<string>()
      for (const role of ['stock', 'foil'] as const) {
        // a token with standing terms, from the command the docs name
        const created = await run(
          bin,
          // foil without terms: nothing of the merchant's then opens the wallet's new document on the
          // channel the returning wallet has open already
          [
            'token',
            'create',
            '--data-dir',
            merchant,
            '--role',
            role,
            ...(role === 'stock' ? ['--unit', 'CHIP'] : []),
            '--json'
          ],
          {
            cwd: project
          }
        )
        const { link } = JSON.parse(created.stdout) as { link: string }
        // one wallet folder for both runs: the same wallet again (its key and secret kept)
        const { stdout } = await run(process.execPath, ['build/wallet.js', link, join(project, 'wallet')], {
          cwd: project,
          timeout: 60_000
        })
        expect(stdout, role).toMatch(/confirmed; this wallet is the (stock|foil)/)
        expect(stdout, role).toContain(`document held: true, serves it: ${role === 'foil'}`)
        expect(stdout, role).toContain('proposal delivered: true')
        wallets.add(/wallet (\S+)/.exec(stdout)?.[1] as string)
        const tallyId = /tally (\S+) confirmed/.exec(stdout)?.[1] as string
        // the merchant holds the same tally's document: its own (stock) or the wallet's replica (foil)
        const shown = await run(bin, ['tally', 'show', tallyId, '--data-dir', merchant, '--json'], {
          cwd: project
        })
        const view = JSON.parse(shown.stdout) as {
          provisioner: boolean
          document: {
            tally: { tallyId: string }
            terms: { unit?: string }
            proposals: Array<{ terms: unknown }>
          }
        }
        expect(view.document.tally.tallyId, role).toBe(tallyId)
        expect(view.provisioner, role).toBe(role === 'stock')
        // the wallet exited as soon as delivered() said so: the merchant holds its proposal
        expect(
          view.document.proposals.map((p) => p.terms),
          role
        ).toEqual([{ note: 'Settle monthly' }])
        if (role === 'stock') expect(view.document.terms.unit).toBe('CHIP')
      }
      expect(wallets.size).toBe(1)
      const tallies = JSON.parse(
        (await run(bin, ['tallies', '--data-dir', merchant, '--json'], { cwd: project })).stdout
      ) as Array<{ status: string }>
      expect(tallies.map((t) => t.status)).toEqual(['confirmed', 'confirmed'])
    } finally {
      serve.kill('SIGTERM')
    }
  }, 180_000)

  it('either entry alone brings the Node 20 polyfill libp2p 3 needs (a wallet may import only taleus/tallydb)', async () => {
    for (const entry of ['taleus/tallydb', 'taleus/bootstrap']) {
      const script = `await import('${entry}'); console.log(typeof Promise.withResolvers)`
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project })
      expect(stdout.trim(), entry).toBe('function')
    }
  })

  it('installs a working `taleus` command', async () => {
    const { stdout } = await run(join(project, 'node_modules/.bin/taleus'), ['--help'], { cwd: project })
    expect(stdout).toContain('serve')
    expect(stdout).toContain('dial')
  })
})
