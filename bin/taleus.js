#!/usr/bin/env node
// The built CLI (out/lib/cli.js, made by `npm run build`) loads the Promise.withResolvers polyfill first.
try {
  await import('../out/lib/cli.js')
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('out/lib/cli.js')) {
    process.stderr.write(
      'taleus: not built yet; run `npm run build` (or `npm install`) in the taleus folder\n'
    )
    process.exit(1)
  }
  throw err
}
