/**
 * A tally's terms in plain words: the credit limits said from this node's side ("you let them owe"), and
 * the terms fields (token form, proposal form) checked in a user's words before anything is sent.
 */
import type { PartyRole, TallyTerms } from '../../../preload/contract.ts'

/** The terms fields as typed (text inputs: what the person typed, checked here). */
export interface TermsFormValues {
  /** What this node lets the other party owe it. */
  youLend: string
  /** What the other party lets this node owe it. */
  theyLend: string
  unit: string
  note: string
}

/** A terms field that can be wrong (`terms`: the form as a whole, e.g. a proposal that changes nothing). */
export type TermsField = 'youLend' | 'theyLend' | 'unit' | 'note' | 'terms'

/** Bounds the node accepts (main/tallydb/tally-document.ts). */
export const MAX_UNIT = 32
export const MAX_NOTE = 2000
export const MAX_LIMIT = 1e15

/** Empty terms fields. */
export function emptyTerms(): TermsFormValues {
  return { youLend: '', theyLend: '', unit: '', note: '' }
}

const AMOUNT = /^\d+(\.\d+)?$/

/** The amount typed, undefined when empty, NaN when it is not an amount. */
function amount(text: string): number | undefined {
  const t = text.trim().replace(/[\s_]/g, '')
  if (t === '') return undefined
  return AMOUNT.test(t) ? Number(t) : NaN
}

function amountError(text: string): string | undefined {
  const n = amount(text)
  if (n === undefined) return undefined
  if (Number.isNaN(n))
    return `“${text.trim().slice(0, 20)}” is not an amount: use digits with a dot for cents, e.g. 500 or 12.50.`
  if (n > MAX_LIMIT) return 'That amount is too large.'
  return undefined
}

/**
 * Every field's problem in words, or an empty object when valid. `atLeastOne`: a proposal must change
 * at least one term (a token's standing terms may all be empty).
 */
export function checkTermsForm(
  f: TermsFormValues,
  options: { atLeastOne?: boolean } = {}
): Partial<Record<TermsField, string>> {
  const errors: Partial<Record<TermsField, string>> = {}
  const you = amountError(f.youLend)
  if (you !== undefined) errors.youLend = you
  const they = amountError(f.theyLend)
  if (they !== undefined) errors.theyLend = they
  if (f.unit.trim().length > MAX_UNIT)
    errors.unit = `Keep the unit short (${MAX_UNIT} characters at most), e.g. CHIP or USD.`
  if (f.note.length > MAX_NOTE) errors.note = `Keep the note to ${MAX_NOTE} characters or fewer.`
  if (
    options.atLeastOne === true &&
    Object.keys(errors).length === 0 &&
    Object.keys(termsInput(f, 'stock')).length === 0
  )
    errors.terms = 'Fill in at least one term to propose.'
  return errors
}

/** The TallyTerms of valid fields, from the point of view of `own` role (empty fields left out). */
export function termsInput(f: TermsFormValues, own: PartyRole): TallyTerms {
  const out: TallyTerms = {}
  const you = amount(f.youLend)
  const they = amount(f.theyLend)
  // the stock's limit is what the stock lets the foil owe
  const stock = own === 'stock' ? you : they
  const foil = own === 'stock' ? they : you
  if (stock !== undefined && !Number.isNaN(stock)) out.stockCreditLimit = stock
  if (foil !== undefined && !Number.isNaN(foil)) out.foilCreditLimit = foil
  if (f.unit.trim() !== '') out.unit = f.unit.trim()
  if (f.note.trim() !== '') out.note = f.note
  return out
}

/** One term as a labelled line, said from `own` role's side. */
export interface TermLine {
  key: keyof TallyTerms
  label: string
  value: string
}

/** The limit each way in words. */
export function limitLabels(own: PartyRole): { stockCreditLimit: string; foilCreditLimit: string } {
  return own === 'stock'
    ? { stockCreditLimit: 'You let them owe up to', foilCreditLimit: 'They let you owe up to' }
    : { stockCreditLimit: 'They let you owe up to', foilCreditLimit: 'You let them owe up to' }
}

/** The set terms as lines, your credit first (`unit` goes with the amounts). */
export function termLines(terms: TallyTerms, own: PartyRole, fallbackUnit?: string): TermLine[] {
  const labels = limitLabels(own)
  const unit = terms.unit ?? fallbackUnit
  const money = (n: number): string =>
    `${n.toLocaleString('en', { maximumFractionDigits: 6 })}${unit == null ? '' : ` ${unit}`}`
  const order: Array<'stockCreditLimit' | 'foilCreditLimit'> =
    own === 'stock' ? ['stockCreditLimit', 'foilCreditLimit'] : ['foilCreditLimit', 'stockCreditLimit']
  const lines: TermLine[] = []
  for (const key of order) {
    const v = terms[key]
    if (v !== undefined) lines.push({ key, label: labels[key], value: money(v) })
  }
  if (terms.unit !== undefined) lines.push({ key: 'unit', label: 'Unit', value: terms.unit })
  if (terms.note !== undefined) lines.push({ key: 'note', label: 'Note', value: terms.note })
  return lines
}
