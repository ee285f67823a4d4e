/**
 * The integrator's path, as an outsider takes it: `npm pack` this repository, `npm install` the tarball into
 * an empty project (plain install, the registry for everything else), type-check the Basic Usage from
 * docs/library.md with `tsc --strict` (NodeNext, no special flags), then run it with two real libp2p nodes to
 * a confirmed tally, stock and foil; and the installed `taleus` command starts.
 */
import { execFile } from 'node:child_process'
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

describe('taleus as an installed package', () => {
  let project = ''
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
    // `tsc --init`'s own defaults (strict, skipLibCheck) with NodeNext: everything must check clean
    const compilerOptions = {
      strict: true,
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      skipLibCheck: true,
      outDir: 'build'
    }
    const tsc = async (options: Record<string, unknown>): Promise<string> => {
      await writeFile(
        join(project, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: options, files: ['basic-usage.ts'] })
      )
      const bin = join(project, 'node_modules/typescript/bin/tsc')
      return run(process.execPath, [bin, '-p', 'tsconfig.json'], { cwd: project }).then(
        ({ stdout }) => stdout,
        (err: { stdout?: string }) => err.stdout ?? String(err)
      )
    }
    expect(await tsc(compilerOptions)).toBe('')
    // and with every declaration checked: nothing in taleus's .d.ts or the example fails (libp2p's own
    // yamux 8 declarations do, against @libp2p/interface 3: docs/library.md says so)
    const full = await tsc({ ...compilerOptions, skipLibCheck: false, noEmit: true })
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

  it('installs a working `taleus` command', async () => {
    const { stdout } = await run(join(project, 'node_modules/.bin/taleus'), ['--help'], { cwd: project })
    expect(stdout).toContain('serve')
    expect(stdout).toContain('dial')
  })
})
