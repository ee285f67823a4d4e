/**
 * `taleus tally show|propose|accept|withdraw|decline`: a tally's shared document (issue I) through the running node's API,
 * which syncs with the counterparty first when it is reachable and answers from its own replica otherwise.
 */
import type { Command } from 'commander'
import type { TallyDocumentView, TallyTerms, TermsProposal } from '../views/console-views.ts'
import { connectApi } from './api-client.ts'
import { UsageError } from './cli-error.ts'
import { print } from './print.ts'
import { printable, printableValue, quoted } from './terminal-text.ts'
import { termsFrom, withTermsOptions } from './terms-options.ts'
import type { TermsOptions } from './terms-options.ts'

/** Register `taleus tally …` on `program`. */
export function registerTallyCommand(program: Command): void {
  const tally = program
    .command('tally')
    .description("a tally's shared document: show it, propose, accept, withdraw and decline terms")

  tally
    .command('show')
    .description('the shared document: parties, terms, proposals, sync state with the counterparty')
    .argument('<tallyId>')
    .requiredOption('--data-dir <dir>', 'data folder of the running node')
    .option('--json', 'print JSON')
    .action(async (tallyId: string, opts: { dataDir: string; json?: boolean }) => {
      const view = await (await connectApi(opts.dataDir))('getTallyDocument', { tallyId })
      print(opts.json, view, () => describeDocument(view))
    })

  withTermsOptions(
    tally
      .command('propose')
      .description('propose new terms; the counterparty sees the proposal as soon as it is connected')
      .argument('<tallyId>')
      .requiredOption('--data-dir <dir>', 'data folder of the running node')
  )
    .option('--json', 'print JSON')
    .action(async (tallyId: string, opts: TermsOptions & { dataDir: string; json?: boolean }) => {
      const terms = termsFrom(opts)
      if (Object.keys(terms).length === 0)
        throw new UsageError('propose at least one of --stock-limit, --foil-limit, --unit, --note')
      const proposal = await (await connectApi(opts.dataDir))('proposeTerms', { tallyId, terms })
      print(
        opts.json,
        proposal,
        () => `proposed ${printable(proposal.proposalId)}: ${describeTerms(proposal.terms)}`
      )
    })

  tally
    .command('accept')
    .description("accept the counterparty's open proposal: its terms become the tally's")
    .argument('<tallyId>')
    .argument('<proposalId>')
    .requiredOption('--data-dir <dir>', 'data folder of the running node')
    .option('--json', 'print JSON')
    .action(async (tallyId: string, proposalId: string, opts: { dataDir: string; json?: boolean }) => {
      const accepted = await (await connectApi(opts.dataDir))('acceptProposal', { tallyId, proposalId })
      print(
        opts.json,
        accepted,
        () =>
          `accepted ${printable(accepted.proposalId)}: ${describeTerms(accepted.terms)}` +
          (accepted.status === 'awaiting-confirmation'
            ? " (the terms change once the proposer's node confirms it)"
            : '')
      )
    })

  for (const [name, how, description] of [
    ['withdraw', 'withdrawn', 'withdraw your own open proposal: the counterparty can no longer accept it'],
    ['decline', 'declined', "decline the counterparty's open proposal: the terms stay as they are"]
  ] as const) {
    tally
      .command(name)
      .description(description)
      .argument('<tallyId>')
      .argument('<proposalId>')
      .requiredOption('--data-dir <dir>', 'data folder of the running node')
      .option('--json', 'print JSON')
      .action(async (tallyId: string, proposalId: string, opts: { dataDir: string; json?: boolean }) => {
        const closed = await (await connectApi(opts.dataDir))('closeProposal', { tallyId, proposalId, how })
        print(
          opts.json,
          closed,
          () => `${how} ${printable(closed.proposalId)}: ${describeTerms(closed.terms)}`
        )
      })
  }
}

/** The document as a few lines for a terminal; every string in it may be the counterparty's. */
export function describeDocument(view: TallyDocumentView): string {
  const { tally, terms, proposals } = view.document
  const local = view.provisioner ? 'this node serves it' : 'replica of the counterparty’s'
  const sync = view.connected
    ? 'connected'
    : view.lastSyncAt === null
      ? 'offline (not synced this run)'
      : `offline (last sync ${new Date(view.lastSyncAt).toISOString()})`
  const lines = [
    `tally ${printable(tally.tallyId)} (${printable(tally.createdBy)}) · ${local} · ${sync}${view.revoked ? ' · grant revoked' : ''}`,
    `  dialer ${printable(tally.initiatorPeerId)}`,
    `  listener ${printable(tally.respondentPeerId)}`,
    `  terms: ${describeTerms(terms)}`
  ]
  if (view.refused !== null)
    lines.push(
      `  their changes refused ${new Date(view.refused.at).toISOString()}: ${printable(view.refused.reason)} (this copy kept none of them)`
    )
  if (proposals.length === 0) lines.push('  no proposals')
  for (const p of proposals) {
    const who = p.by === view.counterpartyPeerId ? 'counterparty' : 'us'
    lines.push(
      `  ${p.status === 'open' ? '○' : '●'} ${printable(p.proposalId)} by ${who}, ${printable(p.status)}: ${describeTerms(p.terms)}`
    )
  }
  return lines.join('\n')
}

// the values are typed, but a counterparty's replica is only as typed as its code: each is made printable
function describeTerms(terms: TallyTerms | TermsProposal['terms']): string {
  const parts: string[] = []
  if (terms.stockCreditLimit !== undefined)
    parts.push(`stock limit ${printable(String(terms.stockCreditLimit))}`)
  if (terms.foilCreditLimit !== undefined)
    parts.push(`foil limit ${printable(String(terms.foilCreditLimit))}`)
  if (terms.unit !== undefined) parts.push(`unit ${printableValue(terms.unit)}`)
  if (terms.note !== undefined) parts.push(`note ${quoted(terms.note)}`)
  return parts.length === 0 ? 'none yet' : parts.join(', ')
}
