/**
 * The layers of main/ as docs/architecture.md draws them, checked on the import statements themselves:
 * the protocol library stands alone, the tally database reaches the store only for its file primitives,
 * and nothing below the shells reaches up into preload/ for the view types (they live in main/views/).
 */
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')

/** Every .ts file under `dir` (relative to the repository). */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(dir, f))
}

interface Edge {
  from: string
  /** A repository path for a relative import, else the package name. */
  to: string
  typeOnly: boolean
}

// `import … from '…'`, `export … from '…'`, `import('…')`: enough for this code base's own style
const IMPORT = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/gm

/** The imports of one file. */
function importsOf(file: string): Edge[] {
  const text = readFileSync(join(ROOT, file), 'utf8')
  const edges: Edge[] = []
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[3] ?? m[4] ?? ''
    const to = spec.startsWith('.') ? normalize(relative(ROOT, join(ROOT, dirname(file), spec))) : spec
    edges.push({ from: file, to, typeOnly: m[2] !== undefined })
  }
  return edges
}

const all = (dir: string): Edge[] => sources(dir).flatMap(importsOf)
const show = (edges: Edge[]): string[] => edges.map((e) => `${e.from} -> ${e.to}`)

describe('layering of main/', () => {
  it('reads the imports it checks (a scanner that finds nothing would pass everything)', () => {
    const edges = all('main/service')
    expect(edges.length).toBeGreaterThan(100)
    expect(edges.some((e) => e.to === 'main/views/console-views.ts' && e.typeOnly)).toBe(true)
    expect(importsOf('main/tallydb/tally-index.ts').map((e) => e.to)).toContain('main/store/journal.ts')
  })

  it('the protocol library (taleus/bootstrap) imports nothing of the app, Electron or Svelte', () => {
    const bad = all('main/bootstrap').filter(
      (e) =>
        (e.to.startsWith('main/') && !e.to.startsWith('main/bootstrap/')) ||
        /^(preload|renderer)\//.test(e.to) ||
        /^(electron|svelte)(\/|$)/.test(e.to)
    )
    expect(show(bad)).toEqual([])
  })

  it('the tally database reaches the store only for its file primitives, and nothing above it', () => {
    const primitives = ['main/store/journal.ts', 'main/store/lock.ts', 'main/store/errors.ts']
    const bad = all('main/tallydb').filter(
      (e) =>
        /^main\/(service|api|cli|electron|views)\//.test(e.to) ||
        (e.to.startsWith('main/store/') && !primitives.includes(e.to)) ||
        /^(preload|renderer)\//.test(e.to) ||
        /^(electron|svelte)(\/|$)/.test(e.to)
    )
    expect(show(bad)).toEqual([])
  })

  it('the view types depend on the libraries only, and only for types', () => {
    const bad = all('main/views').filter(
      (e) =>
        e.to.startsWith('main/') &&
        !e.to.startsWith('main/views/') &&
        !(e.typeOnly && /^main\/(bootstrap|tallydb)\//.test(e.to))
    )
    expect(show(bad)).toEqual([])
    expect(all('main/views').filter((e) => /^(preload|renderer)\//.test(e.to))).toEqual([])
  })

  it('the service and the layers under it import nothing of the shells (api, cli, electron)', () => {
    const lower = ['main/bootstrap', 'main/node', 'main/store', 'main/tallydb', 'main/views', 'main/service']
    const bad = lower.flatMap(all).filter((e) => /^main\/(api|cli|electron)\//.test(e.to))
    expect(show(bad)).toEqual([])
    // the error the service refuses a call with is its own; the shells only report it
    expect(importsOf('main/api/dispatch.ts').map((e) => e.to)).toContain('main/service/api-error.ts')
  })

  it('below the shells nothing reaches up into preload/ (the service may name the contract it implements)', () => {
    const lower = ['main/bootstrap', 'main/node', 'main/store', 'main/tallydb', 'main/views', 'main/service']
    const bad = lower
      .flatMap(all)
      .filter((e) => e.to.startsWith('preload/'))
      .filter((e) => !(e.from === 'main/service/console-service-types.ts' && e.typeOnly))
    expect(show(bad)).toEqual([])
  })
})
