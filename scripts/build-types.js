#!/usr/bin/env node
/**
 * Declarations of `taleus/bootstrap` and `taleus/tallydb` for integrators: tsc emits out/types/…/*.d.ts from
 * the sources (the tally database's reach into main/store/ included), then relative `./x.ts` specifiers become `./x.js` (tsc rewrites them in JS output only, and a
 * consumer's NodeNext tsc rejects `.ts` specifiers in a package's declarations with TS5097).
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const outDir = join(root, 'out/types')
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

rmSync(outDir, { recursive: true, force: true })
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.lib.json')], { stdio: 'inherit' })

const RELATIVE_TS = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)\.ts(['"])/g
for (const name of readdirSync(outDir, { recursive: true })) {
  if (!name.endsWith('.d.ts')) continue
  const path = join(outDir, name)
  const text = readFileSync(path, 'utf8')
  writeFileSync(path, text.replace(RELATIVE_TS, '$1$2.js$3'))
}
