/** The `--stock-limit/--foil-limit/--unit/--note` options, shared by `token create` and `tally propose`. */
import type { Command } from 'commander'
import type { TallyTerms } from '../views/console-views.ts'
import { parseAmount, wrap } from './parse-args.ts'

/** The terms options as commander parses them. */
export interface TermsOptions {
  stockLimit?: number
  foilLimit?: number
  unit?: string
  note?: string
}

/** Add the four terms options to `cmd`. */
export function withTermsOptions(cmd: Command): Command {
  return cmd
    .option('--stock-limit <amount>', 'credit the stock holder extends to the foil holder', wrap(parseAmount))
    .option('--foil-limit <amount>', 'credit the foil holder extends to the stock holder', wrap(parseAmount))
    .option('--unit <unit>', 'currency or unit of account, e.g. CHIP')
    .option('--note <text>', 'free text (at most 2000 characters)')
}

/** The terms the options name (empty when none was given). */
export function termsFrom(opts: TermsOptions): TallyTerms {
  const terms: TallyTerms = {}
  if (opts.stockLimit !== undefined) terms.stockCreditLimit = opts.stockLimit
  if (opts.foilLimit !== undefined) terms.foilCreditLimit = opts.foilLimit
  if (opts.unit !== undefined) terms.unit = opts.unit
  if (opts.note !== undefined) terms.note = opts.note
  return terms
}
