/**
 * `taleus tally show|propose|accept` end to end in child processes (issue I): A serves, B dials and exits
 * with its replica on disk; A proposes while B is down; B comes back, sees the proposal and accepts it; A
 * sees the new terms. Bad arguments exit 2.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { CreatedToken, TallyDocumentView, TermsProposal } from '../../preload/contract.ts'
import { BIN, ROOT, ensureBuilt } from '../helpers/built-cli.ts'

interface Run {
  code: number
  stdout: string
  stderr: string
}

function taleus(args: string[]): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code =
        err === null
          ? 0
          : typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : -1
      resolvePromise({ code, stdout, stderr })
    })
  })
}

/** `taleus serve` on `dir`, resolved once it printed its ready line. */
async function serve(dir: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe']
    }
  )
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  await vi.waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${err}`)
      expect(out).toContain('\n')
    },
    { timeout: 30_000, interval: 20 }
  )
  return child
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))])
  if (child.exitCode === null) child.kill('SIGKILL')
}

describe('taleus tally', () => {
  let dirA: string
  let dirB: string
  let a: ChildProcess | undefined
  let b: ChildProcess | undefined

  beforeAll(async () => {
    ensureBuilt()
    dirA = await mkdtemp(join(tmpdir(), 'taleus-tally-a-'))
    dirB = await mkdtemp(join(tmpdir(), 'taleus-tally-b-'))
    a = await serve(dirA)
  })

  afterAll(async () => {
    await stop(a)
    await stop(b)
    await rm(dirA, { recursive: true, force: true })
    await rm(dirB, { recursive: true, force: true })
  })

  it('show, propose while the other side is down, accept once it is back', async () => {
    // standing terms on the token: checked as a proposal's are, then in every tally's document
    const createToken = async (...terms: string[]): Promise<Run> =>
      taleus(['token', 'create', '--data-dir', dirA, '--role', 'stock', ...terms])
    const bad = await createToken('--stock-limit', '-3')
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim().split('\n')).toEqual(['taleus: a limit must be a number ≥ 0 (got "-3")'])
    const made = await createToken(
      '--stock-limit',
      '500',
      '--unit',
      'CHIP',
      '--note',
      'Settle by the 1st',
      '--json'
    )
    const created = JSON.parse(made.stdout) as CreatedToken & { terms?: unknown }
    expect(created.terms).toEqual({ stockCreditLimit: 500, unit: 'CHIP', note: 'Settle by the 1st' })
    const dial = await taleus(['dial', created.link, '--data-dir', dirB, '--json'])
    expect(dial.code).toBe(0)
    const { tallyId } = JSON.parse(dial.stdout) as { tallyId: string }

    const shown = await taleus(['tally', 'show', tallyId, '--data-dir', dirA, '--json'])
    expect(shown.code).toBe(0)
    const view = JSON.parse(shown.stdout) as TallyDocumentView
    expect(view).toMatchObject({ tallyId, provisioner: true })
    expect(view.document.tally.tallyId).toBe(tallyId)
    expect(view.document.terms).toEqual({ stockCreditLimit: 500, unit: 'CHIP', note: 'Settle by the 1st' })
    expect((await taleus(['tally', 'show', tallyId, '--data-dir', dirA])).stdout).toContain(
      'this node serves it'
    )

    // B's dialer node has exited: A proposes to an offline counterparty
    const proposed = await taleus([
      'tally',
      'propose',
      tallyId,
      '--data-dir',
      dirA,
      '--unit',
      'EUR',
      '--json'
    ])
    expect(proposed.code).toBe(0)
    const proposal = JSON.parse(proposed.stdout) as TermsProposal

    // B comes back: its node reopens the document at A and sees the proposal
    b = await serve(dirB)
    await vi.waitFor(
      async () => {
        const seen = JSON.parse(
          (await taleus(['tally', 'show', tallyId, '--data-dir', dirB, '--json'])).stdout
        ) as TallyDocumentView
        expect(seen.document.proposals.map((p) => p.proposalId)).toContain(proposal.proposalId)
      },
      { timeout: 30_000, interval: 200 }
    )
    const accepted = await taleus(['tally', 'accept', tallyId, proposal.proposalId, '--data-dir', dirB])
    expect(accepted.code).toBe(0)
    expect(accepted.stdout).toContain('accepted')
    await vi.waitFor(
      async () => {
        const after = JSON.parse(
          (await taleus(['tally', 'show', tallyId, '--data-dir', dirA, '--json'])).stdout
        ) as TallyDocumentView
        expect(after.document.terms.unit).toBe('EUR')
      },
      { timeout: 30_000, interval: 200 }
    )

    // A proposes twice: its first proposal is replaced; B declines the second; A's third is withdrawn
    const propose = async (unit: string): Promise<TermsProposal> =>
      JSON.parse(
        (await taleus(['tally', 'propose', tallyId, '--data-dir', dirA, '--unit', unit, '--json'])).stdout
      ) as TermsProposal
    const first = await propose('USD')
    const second = await propose('CHF')
    const seenAtB = async (id: string, status: string): Promise<void> =>
      vi.waitFor(
        async () => {
          const doc = JSON.parse(
            (await taleus(['tally', 'show', tallyId, '--data-dir', dirB, '--json'])).stdout
          ) as TallyDocumentView
          expect(doc.document.proposals.find((p) => p.proposalId === id)?.status).toBe(status)
        },
        { timeout: 30_000, interval: 200 }
      )
    await seenAtB(second.proposalId, 'open')
    await seenAtB(first.proposalId, 'superseded')
    const stale = await taleus(['tally', 'accept', tallyId, first.proposalId, '--data-dir', dirB])
    expect(stale.code).not.toBe(0)
    expect(stale.stderr).toContain('no longer open')
    const declined = await taleus(['tally', 'decline', tallyId, second.proposalId, '--data-dir', dirB])
    expect(declined.code).toBe(0)
    expect(declined.stdout).toContain('declined')
    const third = await propose('GBP')
    const withdrawn = await taleus(['tally', 'withdraw', tallyId, third.proposalId, '--data-dir', dirA])
    expect(withdrawn.code).toBe(0)
    await seenAtB(third.proposalId, 'withdrawn')
    const late = await taleus(['tally', 'accept', tallyId, third.proposalId, '--data-dir', dirB])
    expect(late.code).not.toBe(0)
    // none of it moved the terms
    const end = JSON.parse(
      (await taleus(['tally', 'show', tallyId, '--data-dir', dirA, '--json'])).stdout
    ) as TallyDocumentView
    expect(end.document.terms.unit).toBe('EUR')
    expect(end.document.proposals.find((p) => p.proposalId === second.proposalId)?.status).toBe('declined')
  })

  it('bad arguments exit 2; an unknown tally is a clear error', async () => {
    const none = await taleus(['tally', 'propose', 'x', '--data-dir', dirA])
    expect(none.code).toBe(2)
    const bad = await taleus(['tally', 'propose', 'x', '--data-dir', dirA, '--stock-limit', '-5'])
    expect(bad.code).toBe(2)
    const unknown = await taleus(['tally', 'show', 'no-such-tally', '--data-dir', dirA])
    expect(unknown.code).not.toBe(0)
    expect(unknown.stderr).toContain('no shared document')
  })
})
