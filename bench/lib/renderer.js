// Renderer under load: `taleus serve` (TALEUS_BENCH=1) with the built browser console in Debian's
// Chromium; the bench keeps LIVE sessions in flight and pushes EVENTS_PER_S SessionEvents per second
// through POST /api/bench/events → the real session table → batcher → SSE → the real Svelte renderer.
// Measures event-to-row (event time → its row with that state in the DOM), frame rate (rAF callbacks
// per second) and the page's JS heap (CDP Performance.getMetrics).
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { quantile, round } from './stats.js'

const ROOT = join(import.meta.dirname, '..', '..')
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]
const LIVE = 1000
const EVENTS_PER_S = 5000
const TICK_MS = 20
const STATES = ['L_PROCESS_CONTACT', 'L_SEND_RESPONSE', 'L_AWAIT_ACK', 'L_DONE']

/** Installed in the page before its scripts: counts frames, records when each (session, state) shows. */
function instrument() {
  const seen = new Map()
  const probe = { frames: 0, seen, counting: false }
  window.__bench = probe
  const frame = () => {
    if (probe.counting) probe.frames++
    requestAnimationFrame(frame)
  }
  requestAnimationFrame(frame)
  const record = (el) => {
    const id = el.getAttribute('data-session-id')
    const state = el.getAttribute('data-state')
    if (id == null || state == null) return
    const key = `${id}|${state}`
    if (!seen.has(key)) seen.set(key, Date.now())
  }
  const observer = new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes') {
        if (m.target.nodeType === 1 && m.target.hasAttribute('data-session-id')) record(m.target)
        continue
      }
      for (const node of m.addedNodes) {
        if (node.nodeType !== 1) continue
        if (node.hasAttribute('data-session-id')) record(node)
        for (const el of node.querySelectorAll?.('[data-session-id]') ?? []) record(el)
      }
    }
  })
  const start = () =>
    observer.observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-state', 'data-session-id']
    })
  if (document.body != null) start()
  else document.addEventListener('DOMContentLoaded', start)
}

/** Runs the renderer benchmark; `{ skipped }` when the browser or the built console is missing. */
export async function runRenderer({ quick, log }) {
  if (!existsSync(CHROMIUM)) return { skipped: `${CHROMIUM} not installed` }
  if (!existsSync(join(ROOT, 'out/renderer/index.html'))) return { skipped: 'out/renderer not built' }
  if (!existsSync(join(ROOT, 'out/lib/cli.js'))) return { skipped: 'out/lib/cli.js not built' }
  const { chromium } = await import('playwright-core')
  const durationMs = quick ? 5000 : 15_000
  const dataDir = await mkdtemp(join(tmpdir(), 'taleus-bench-renderer-'))
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/taleus.js'),
      'serve',
      '--data-dir',
      dataDir,
      '--no-mdns',
      '--listen',
      '/ip4/127.0.0.1/tcp/0'
    ],
    { env: { ...process.env, TALEUS_BENCH: '1' }, stdio: ['ignore', 'pipe', 'pipe'] }
  )
  // stderr carries the console URL with its secret: never echoed
  child.stderr.resume()
  const exited = new Promise((resolve) => child.on('exit', resolve))
  let browser
  try {
    const ready = await new Promise((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (chunk) => {
        out += chunk
        const line = out.split('\n').find((l) => l.includes('"event":"ready"'))
        if (line) resolve(JSON.parse(line))
      })
      child.on('exit', (code) => reject(new Error(`taleus serve exited (${code})`)))
    })
    const secret = (await readFile(join(dataDir, 'api-secret'), 'utf8')).trim()
    const headers = { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }
    const post = async (events) => {
      const res = await fetch(`${ready.api}/api/bench/events`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ events })
      })
      if (!res.ok) throw new Error(`POST /api/bench/events: ${res.status}`)
      await res.arrayBuffer()
    }
    await post([]) // fails fast when the hook is off

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    await page.addInitScript(instrument)
    await page.goto(`${ready.api}/#secret=${encodeURIComponent(secret)}`)
    await page.click('[data-testid="nav-sessions"]')
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('Performance.enable')
    const heap = async () => {
      const { metrics } = await cdp.send('Performance.getMetrics')
      return metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0
    }

    // LIVE sessions in flight; each tick advances the next sessions in turn by one state, and a session
    // that reached L_DONE is replaced by a new one, so LIVE stay in progress
    const live = Array.from({ length: LIVE }, () => newSession())
    const emitted = new Map()
    let cursor = 0
    let sent = 0
    const perTick = (EVENTS_PER_S * TICK_MS) / 1000
    const heapSamples = []
    const start = Date.now()
    await page.evaluate(() => {
      window.__bench.counting = true
    })
    const frameStart = Date.now()
    let nextTick = start
    let lastHeap = 0
    while (Date.now() - start < durationMs) {
      const events = []
      for (let i = 0; i < perTick; i++) {
        const slot = cursor++ % LIVE
        const s = live[slot]
        const state = STATES[s.step]
        const event = {
          sessionId: s.id,
          direction: 'inbound',
          state,
          previousState: s.step === 0 ? null : STATES[s.step - 1],
          at: Date.now(),
          peerId: s.peerId,
          role: 'stock',
          tokenId: 'tok_bench',
          ...(s.step >= 1 ? { tallyId: s.tallyId } : {})
        }
        events.push(event)
        emitted.set(`${s.id}|${state}`, event.at)
        s.step++
        if (s.step === STATES.length) live[slot] = newSession()
      }
      await post(events)
      sent += events.length
      if (Date.now() - lastHeap >= 1000) {
        lastHeap = Date.now()
        heapSamples.push(await heap())
      }
      nextTick += TICK_MS
      const wait = nextTick - Date.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    }
    const sendMs = Date.now() - start
    // let the last batch land
    await new Promise((r) => setTimeout(r, 500))
    const probe = await page.evaluate(() => {
      window.__bench.counting = false
      return { frames: window.__bench.frames, seen: [...window.__bench.seen] }
    })
    const frameMs = Date.now() - frameStart
    heapSamples.push(await heap())
    const latencies = []
    for (const [key, seenAt] of probe.seen) {
      const at = emitted.get(key)
      if (at !== undefined) latencies.push(seenAt - at)
    }
    const rowsShown = await page.locator('[data-testid="session-row"]').count()
    log(
      `renderer: sent ${sent} events in ${sendMs} ms, ${latencies.length} rows observed, ${rowsShown} rows in DOM`
    )
    return {
      liveSessions: LIVE,
      eventsPerSecondTarget: EVENTS_PER_S,
      eventsPerSecondSent: round(sent / (sendMs / 1000)),
      durationMs: sendMs,
      eventToRow: {
        n: latencies.length,
        p50: round(quantile(latencies, 0.5)),
        p95: round(quantile(latencies, 0.95)),
        p99: round(quantile(latencies, 0.99)),
        max: latencies.length > 0 ? Math.max(...latencies) : null
      },
      fps: round(probe.frames / (frameMs / 1000)),
      heapPeakMB: round(Math.max(...heapSamples) / 1e6),
      heapSamplesMB: heapSamples.map((h) => round(h / 1e6))
    }
  } catch (err) {
    return { skipped: `failed: ${err instanceof Error ? err.message : String(err)}` }
  } finally {
    await browser?.close().catch(() => {})
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
    await rm(dataDir, { recursive: true, force: true })
  }
}

function newSession() {
  const id = randomUUID()
  return { id, step: 0, peerId: `12D3KooWbench${id.slice(0, 8)}`, tallyId: `tally-${id}` }
}
