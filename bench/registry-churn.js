#!/usr/bin/env node
// How much of short-lived sessions' garbage V8 promotes when each session is also entered in a long-lived
// registry and removed at its end (docs/performance.md, K's tenth pass). 10 sessions at a time, 5 ms each,
// ~30 KB each, for 4 s. Run: node --trace-gc-nvp bench/registry-churn.js plain|map|set|listener
// and sum the `promoted=` of its scavenges (plain: only the session holds its data).
const variant = process.argv[2] ?? 'plain'
const registry = new Map()
const members = new Set()
const stop = new AbortController()
let sessions = 0

async function session() {
  const data = Array.from({ length: 1000 }, (_, i) => ({ i }))
  const key = {}
  const onStop = () => data.length
  if (variant === 'map') registry.set(key, data)
  if (variant === 'set') members.add(onStop)
  if (variant === 'listener') stop.signal.addEventListener('abort', onStop)
  await new Promise((resolve) => setTimeout(resolve, 5))
  if (variant === 'map') registry.delete(key)
  if (variant === 'set') members.delete(onStop)
  if (variant === 'listener') stop.signal.removeEventListener('abort', onStop)
  sessions++
}

const start = performance.now()
await Promise.all(
  Array.from({ length: 10 }, async () => {
    while (performance.now() - start < 4000) await session()
  })
)
console.log(`${variant}: ${sessions} sessions`)
