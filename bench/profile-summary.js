#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof): self time by package/area and the top functions.
// Usage: node bench/profile-summary.js FILE.cpuprofile... [topN] (several files: their sum)
import { readFileSync } from 'node:fs'

const args = process.argv.slice(2)
const top = /^\d+$/.test(args.at(-1) ?? '') ? Number(args.pop()) : 25
const byId = new Map()
const self = new Map()
for (const [f, file] of args.entries()) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  for (const n of profile.nodes) byId.set(`${f}:${n.id}`, n)
  const dt = profile.timeDeltas
  for (let i = 0; i < profile.samples.length; i++) {
    const id = `${f}:${profile.samples[i]}`
    self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0))
  }
}
const total = [...self.values()].reduce((a, b) => a + b, 0)

function area(url) {
  if (!url) return '(native/idle/gc)'
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m) return m[1]
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0]
  const p = /\/work\/[^/]+\/((?:main|bench)\/[^/]+)/.exec(url)
  if (p) return p[1]
  return url.replace(/^file:\/\//, '')
}

const areas = new Map()
const fns = new Map()
for (const [id, t] of self) {
  const n = byId.get(id)
  const { functionName, url, lineNumber } = n.callFrame
  const a =
    functionName === '(idle)' || functionName === '(program)' || functionName === '(garbage collector)'
      ? functionName
      : area(url)
  areas.set(a, (areas.get(a) ?? 0) + t)
  const key = `${functionName || '(anonymous)'} ${area(url)}:${lineNumber + 1}`
  fns.set(key, (fns.get(key) ?? 0) + t)
}
const pct = (t) => ((100 * t) / total).toFixed(1).padStart(5) + '%'
console.log(`total ${(total / 1000).toFixed(0)} ms sampled`)
console.log('\nself time by area:')
for (const [a, t] of [...areas].sort((x, y) => y[1] - x[1]).slice(0, top))
  console.log(`${pct(t)}  ${(t / 1000).toFixed(0).padStart(6)} ms  ${a}`)
console.log('\ntop functions (self):')
for (const [f, t] of [...fns].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${pct(t)}  ${f}`)
