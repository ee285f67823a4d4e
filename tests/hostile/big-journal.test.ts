/**
 * A journal grown by abandoned attempts (issue E.3): draft + abandoned line pairs carrying the largest
 * identity bundle and cadre, as an attacker's flood left them, 256 MB by default (TALEUS_BIG_JOURNAL_MB).
 * A child process with a 64 MiB heap must open it and report the right counts: the open streams the file,
 * and abandoned tallies are kept small. The journal is four times the heap, as it was at 1 GB and 256 MiB;
 * the smaller pair leaves the disk to the tests beside it (a CI machine's disk can be small).
 * Lowdb only by nature: a local journal file read at start; a PostgreSQL node loads rows, not a journal.
 */
import { createWriteStream, type WriteStream } from 'node:fs'
import { mkdtemp, rm, stat, statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sealLine } from '../../main/store/journal.ts'
import { runTsChild, sourceUrl, tsLoader } from '../helpers/ts-child.ts'

const MB = Number(process.env.TALEUS_BIG_JOURNAL_MB ?? 256)
const HEAP_MB = 64

const BUNDLE = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`field${i}`, 'x'.repeat(1024)]))
const CADRE = Array.from({ length: 16 }, (_, i) => `/ip4/10.0.0.${i}/tcp/1/p2p/${'p'.repeat(480)}`)

function record(i: number, status: 'draft' | 'abandoned'): string {
  const tallyId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`
  return JSON.stringify({
    tallyId,
    role: 'stock',
    direction: 'inbound',
    status,
    counterpartyPeerId: '12D3KooWAttacker',
    localPeerId: '12D3KooWMerchant',
    sessionId: `session-${i}`,
    createdAt: 1_700_000_000_000 + i,
    updatedAt: 1_700_000_000_000 + i + (status === 'draft' ? 0 : 1),
    tally: {
      tallyId,
      createdBy: 'stock',
      initiatorPeerId: '12D3KooWAttacker',
      respondentPeerId: '12D3KooWMerchant',
      createdAt: new Date(1_700_000_000_000 + i).toISOString()
    },
    dbConnectionInfo: { nodes: ['/ip4/127.0.0.1/tcp/4001'], credentials: 'c'.repeat(43) },
    tokenId: 'tk_attacked',
    counterpartyIdentity: BUNDLE,
    counterpartyCadre: CADRE
  })
}

/** Resolves on 'drain', rejects on the stream's error (a full disk must fail the test, not hang it). */
function drained(out: WriteStream): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      out.off('drain', done)
      out.off('error', done)
      if (err) reject(err)
      else resolve()
    }
    out.once('drain', done)
    out.once('error', done)
  })
}

/** Write pairs until `bytes`: the first half as written before checksums, the rest sealed. */
async function writeJournal(path: string, bytes: number): Promise<number> {
  const out = createWriteStream(path)
  let written = 0
  let pairs = 0
  while (written < bytes) {
    const legacy = written < bytes / 2
    const text =
      [record(pairs, 'draft'), record(pairs, 'abandoned')].map((l) => (legacy ? l : sealLine(l))).join('\n') +
      '\n'
    written += Buffer.byteLength(text)
    pairs++
    if (!out.write(text)) await drained(out)
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve()))
  )
  return pairs
}

const CHILD = `
const { openStore } = await import(${JSON.stringify(sourceUrl('main/store/index.ts'))})
let peak = 0
const sample = () => { peak = Math.max(peak, process.memoryUsage().heapUsed) }
const timer = setInterval(sample, 20)
const store = await openStore(process.argv[1])
sample()
clearInterval(timer)
const tallies = store.listTallies()
const count = (s) => tallies.filter((t) => t.status === s).length
await store.close()
console.log(JSON.stringify({ tallies: tallies.length, abandoned: count('abandoned'), draft: count('draft'), peakHeap: peak }))
`

describe('a large journal of abandoned attempts', () => {
  let dir: string
  let loader: { dir: string; execArgv: string[] }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taleus-big-'))
    loader = await tsLoader()
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
    await rm(loader.dir, { recursive: true, force: true })
  })

  it(`opens a ${MB} MB journal in a child with a ${HEAP_MB} MiB heap, with the right counts`, async () => {
    const path = join(dir, 'tallies.jsonl')
    const fs = await statfs(dir)
    const freeMb = (fs.bavail * fs.bsize) / 2 ** 20
    // filling the disk would break every other test running beside this one, so refuse up front
    if (freeMb < MB + 256)
      throw new Error(
        `needs ${MB + 256} MiB free in ${tmpdir()}, has ${freeMb.toFixed(0)} (TALEUS_BIG_JOURNAL_MB)`
      )
    const pairs = await writeJournal(path, MB * 1024 * 1024)
    const size = (await stat(path)).size
    const { code, out, err } = await runTsChild(loader, CHILD, {
      flags: [`--max-old-space-size=${HEAP_MB}`],
      args: [dir],
      timeoutMs: 540_000
    })
    expect(err.slice(-2000), 'child stderr').not.toMatch(/heap out of memory/i)
    expect(code).toBe(0)
    const result = JSON.parse(out.trim()) as {
      tallies: number
      abandoned: number
      draft: number
      peakHeap: number
    }
    process.stderr.write(
      `big journal: ${(size / 2 ** 20).toFixed(0)} MiB, ${pairs} abandoned attempts, peak heap while opening ` +
        `${(result.peakHeap / 2 ** 20).toFixed(1)} MiB, file after open ${((await stat(path)).size / 2 ** 20).toFixed(1)} MiB\n`
    )
    expect(result).toMatchObject({ tallies: pairs, abandoned: pairs, draft: 0 })
    expect(result.peakHeap).toBeLessThan(HEAP_MB * 2 ** 20)
  }, 600_000)
})
