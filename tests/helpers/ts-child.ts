/** Node flags that let a child process import the project's TypeScript sources (Node 20 has no type stripping). */
import { spawn } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

/** The file URL of a source file of this repo, for `import()` in a child. */
export function sourceUrl(path: string): string {
  return pathToFileURL(resolve(import.meta.dirname, '../..', path)).href
}

/**
 * Write a tiny loader (typescript's transpileModule, a dev dependency) into a temp folder and return the
 * `--import` flags that register it; the caller removes `dir` when done.
 */
export async function tsLoader(): Promise<{ dir: string; execArgv: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'taleus-ts-'))
  const tsUrl = pathToFileURL(
    resolve(import.meta.dirname, '../../node_modules/typescript/lib/typescript.js')
  ).href
  await writeFile(
    join(dir, 'hooks.mjs'),
    `import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
const ts = createRequire(import.meta.url)(new URL(${JSON.stringify(tsUrl)}).pathname)
export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context)
  const source = await readFile(new URL(url), 'utf8')
  const out = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true } })
  return { format: 'module', source: out.outputText, shortCircuit: true }
}
`
  )
  await writeFile(
    join(dir, 'register.mjs'),
    `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)})\n`
  )
  return { dir, execArgv: ['--import', pathToFileURL(join(dir, 'register.mjs')).href] }
}

/**
 * Run `code` (an ES module that may import the repo's TypeScript) in a child Node with `flags` before the
 * loader's and `args` after it; killed after `timeoutMs`, so a stuck child cannot keep a test worker alive.
 */
export async function runTsChild(
  loader: { execArgv: string[] },
  code: string,
  options: { flags?: string[]; args?: string[]; timeoutMs: number }
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(
    process.execPath,
    [
      ...(options.flags ?? []),
      ...loader.execArgv,
      '--input-type=module',
      '-e',
      code,
      ...(options.args ?? [])
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], signal: AbortSignal.timeout(options.timeoutMs) }
  )
  child.on('error', () => {})
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const exit = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { code: exit, out, err }
}
