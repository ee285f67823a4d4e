/**
 * The CLI's human output given other people's hostile strings (a customer's identity, a counterparty's
 * terms and names, anything from the network or the store): no control character reaches the terminal
 * but the newlines the formatters put there, no bidi or zero-width character, and no value can pass for
 * another row, line or term.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { describeReports, type JournalReport } from '../../main/cli/doctor.ts'
import { describeDial } from '../../main/cli/dial.ts'
import { approvalsTable, sessionsTable, talliesTable, tokensTable } from '../../main/cli/format.ts'
import { print } from '../../main/cli/print.ts'
import { reportError } from '../../main/cli/report-error.ts'
import { CliError } from '../../main/cli/cli-error.ts'
import { describeDocument } from '../../main/cli/tally-cmd.ts'
import type { ApprovalView, SessionView, TallyView, TokenView } from '../../preload/contract.ts'
import type { TallyDocumentView } from '../../main/views/console-views.ts'

/** C0 but the newline, DEL, C1, bidi controls, zero-width characters, line separators, BOM. */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const HIDDEN = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/u

/** Hostile values: clear the screen, rewrite the line, forge a row, reverse text, hide letters, retitle. */
const EVIL = [
  '\x1b[2J\x1b[H',
  'real\r\x1b[2Kfake',
  'x\nTALLY-FORGED  confirmed  stock  in',
  '\u009b2J\u009d0;title\u0007',
  'ann\u202egro.elpmaxe@\u2066',
  'A\u200bdmin\ufeff\u200d',
  'bell\x07back\x08\x08\x7f',
  'line\u2028sep\u0085'
]
const evil = (i: number): string => EVIL[i % EVIL.length] as string

function expectClean(text: string, lines: number): void {
  expect(text).not.toMatch(HIDDEN)
  expect(text.split('\n')).toHaveLength(lines)
}

const at = Date.UTC(2026, 10, 25, 12)

describe('tables with hostile values', () => {
  it('tally list: one line per tally, NAME and every other cell escaped', () => {
    const tallies: TallyView[] = EVIL.map((e, i) => ({
      tallyId: `tally-${i}${e}`,
      role: 'stock',
      direction: i % 2 === 0 ? 'inbound' : 'outbound',
      status: 'confirmed',
      counterpartyPeerId: `12D3KooW${e}`,
      localPeerId: '12D3KooWLocal',
      sessionId: `session-${e}`,
      tokenLabel: evil(i + 1),
      counterpartyName: e,
      createdAt: at,
      updatedAt: at
    }))
    const out = talliesTable(tallies)
    expectClean(out, tallies.length + 1)
    expect(out).toContain('real\\r\\x1b[2Kfake')
    expect(out).toContain('x\\nTALLY-FORGED')
    expect(out.split('\n').filter((l) => l.startsWith('TALLY-FORGED'))).toEqual([])
  })

  it('session list, token list and approvals', () => {
    const sessions = EVIL.map((e, i): SessionView => ({
      sessionId: `s-${i}${e}`,
      direction: 'inbound',
      state: e as SessionView['state'],
      done: true,
      startedAt: at,
      updatedAt: at,
      peerId: e,
      tokenLabel: evil(i + 2),
      tallyId: e,
      reason: e as SessionView['reason']
    }))
    expectClean(sessionsTable(sessions), sessions.length + 1)

    const tokens = EVIL.map((e, i): TokenView => ({
      tokenId: `tk-${i}${e}`,
      label: e,
      role: 'stock',
      uses: 1,
      used: 0,
      expiresAt: null,
      revoked: false,
      status: e as TokenView['status'],
      identityRequirements: [],
      approval: 'operator',
      approvalTimeoutMs: 1000,
      createdAt: at
    }))
    expectClean(tokensTable(tokens), tokens.length + 1)

    const approvals = EVIL.map((e, i): ApprovalView => ({
      sessionId: `s-${i}`,
      tokenId: e,
      tokenLabel: evil(i + 3),
      peerId: e,
      bundle: { name: e, [`em${e}ail`]: evil(i + 1) },
      requestedAt: at,
      deadline: at
    }))
    expectClean(approvalsTable(approvals), approvals.length + 1)
  })

  it('an identity value cannot pass for another field of the same customer', () => {
    const out = approvalsTable([
      {
        sessionId: 's-1',
        tokenId: 'tk_1',
        tokenLabel: 'Counter 1',
        peerId: '12D3KooWPeer',
        bundle: { name: 'Ann, email=ceo@bank.example', email: 'ann@evil.example' },
        requestedAt: at,
        deadline: at
      }
    ])
    expect(out).toContain('name="Ann, email=ceo@bank.example", email=ann@evil.example')
  })
})

describe('tally show with hostile values', () => {
  const us = '12D3KooWUs'
  const them = '12D3KooWThem'

  function view(terms: TallyDocumentView['document']['terms'], note: string): TallyDocumentView {
    return {
      tallyId: 'tally-1',
      documentId: 'doc-1',
      provisioner: false,
      counterpartyPeerId: them,
      revoked: false,
      connected: true,
      lastSyncAt: at,
      refused: { at, reason: evil(3) },
      document: {
        schema: 'taleus/tally/1',
        tally: {
          tallyId: `tally-1${evil(2)}`,
          createdBy: evil(0),
          initiatorPeerId: them + evil(1),
          respondentPeerId: us
        } as TallyDocumentView['document']['tally'],
        terms,
        proposals: [
          {
            proposalId: `p-1${evil(4)}`,
            by: them,
            at: new Date(at).toISOString(),
            status: 'open',
            terms: { stockCreditLimit: 900_000_000, unit: evil(5), note }
          }
        ],
        log: []
      }
    }
  }

  it('a note cannot rewrite the proposal line to show another limit', () => {
    const out = describeDocument(
      view({ unit: evil(6), note: evil(7) }, '\r\x1b[2K  ○ p-1 by counterparty, open: stock limit 5')
    )
    expectClean(out, 6)
    const proposal = out.split('\n').find((l) => l.includes('by counterparty'))
    expect(proposal).toContain('stock limit 900000000')
    expect(proposal).toContain('note "\\r\\u001b[2K  ○ p-1 by counterparty, open: stock limit 5"')
  })

  it('a note cannot close its quotes and add terms, nor a unit pass for more terms', () => {
    const out = describeDocument(view({ unit: 'EUR, stock limit 5' }, 'ok", stock limit 5, note "x'))
    expect(out).toContain('unit "EUR, stock limit 5"')
    expect(out).toContain('note "ok\\", stock limit 5, note \\"x"')
  })
})

describe('other human lines', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('a dial result and a doctor report escape what the merchant and the journal named', () => {
    expectClean(
      describeDial({ sessionId: 's', ok: true, tallyId: evil(2), role: 'stock', remotePeerId: evil(1) }),
      1
    )
    const report: JournalReport = {
      file: '/data/tallies.jsonl',
      lines: 3,
      legacyLines: 0,
      damaged: [{ line: 2, detail: `tally ${evil(2)} confirmed, then draft` }],
      downgrades: [{ line: 3, detail: evil(0) }],
      tornBytes: 0,
      review: [evil(1)]
    }
    expectClean(describeReports([report], false), 5)
  })

  it('print() escapes a human line a formatter missed; JSON stays JSON', () => {
    const written: string[] = []
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk))
      return true
    })
    print(false, {}, () => `a${evil(0)}\nb${evil(3)}`)
    print(true, { v: '\x1b' }, () => 'unused')
    expect(written[0]).not.toMatch(HIDDEN)
    expect(written[0]?.split('\n')).toHaveLength(3)
    expect(JSON.parse(written[1] as string)).toEqual({ v: '\x1b' })
  })

  it('an error line quoting the node or the counterparty is one escaped line', () => {
    const written: string[] = []
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk))
      return true
    })
    expect(reportError(new CliError(`refused: ${evil(1)}${evil(3)}`))).toBe(1)
    expect(reportError(new Error(evil(4)))).toBe(1)
    for (const line of written) expectClean(line, 2)
  })
})
