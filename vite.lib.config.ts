/**
 * Library/SSR build of the Node parts for `npx taleus` and `taleus/bootstrap`:
 * out/lib/cli.js, out/lib/bootstrap.js and out/lib/tallydb.js, ESM for Node 20 (one build: modules they share,
 * such as the error classes, are one chunk, so `instanceof` holds across the two entries). The package's runtime `dependencies` (the libp2p
 * stack and the protocol library's own few) stay external; everything else the CLI uses (lowdb, commander, …)
 * is bundled in, so an installed `taleus` pulls no console-only packages (docs/library.md).
 */
import { readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { defineConfig } from 'vite'

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  dependencies?: Record<string, string>
}
const packages = Object.keys(pkg.dependencies ?? {})

/** A bare import of a package or a Node builtin: resolved at run time from node_modules. */
function isExternal(id: string): boolean {
  if (id.startsWith('node:') || builtinModules.includes(id)) return true
  return packages.some((name) => id === name || id.startsWith(`${name}/`))
}

export default defineConfig({
  // Nothing of the renderer's public/ folder belongs in a Node library.
  publicDir: false,
  build: {
    ssr: true,
    target: 'node20',
    outDir: 'out/lib',
    emptyOutDir: true,
    sourcemap: true,
    minify: false,
    reportCompressedSize: false,
    rolldownOptions: {
      input: {
        cli: 'main/cli/index.ts',
        bootstrap: 'main/bootstrap/index.ts',
        tallydb: 'main/tallydb/index.ts'
      },
      external: isExternal,
      output: {
        format: 'es',
        entryFileNames: '[name].js',
        chunkFileNames: 'chunks/[name]-[hash].js'
      }
    }
  },
  ssr: {
    target: 'node',
    // bundle everything our external() does not name (vite's SSR default would leave every package external)
    noExternal: true
  }
})
