/** The new-token form's fields, checked in a user's words before anything is sent to the node. */
import type { ApprovalPolicy, CreateTokenInput, PartyRole } from '../../../preload/contract.ts'

/** The form as typed (number inputs bound with Svelte give a number, or null/'' when empty). */
export interface TokenFormValues {
  label: string
  role: PartyRole
  /** `per-customer`: a customer display, a fresh single-use code minted by the node after each customer. */
  usesKind: 'one' | 'n' | 'unlimited' | 'per-customer'
  usesN: number | string | null | undefined
  expiresIn: string
  requirements: string
  approval: ApprovalPolicy
  approvalSeconds: number | string | null | undefined
}

/** A field of the form that can be wrong. */
export type TokenField = 'label' | 'usesN' | 'requirements' | 'approvalSeconds'

/** Upper bounds the node accepts. */
export const MAX_LABEL = 80
export const MAX_USES = 1_000_000
export const MAX_WAIT_S = 86_400
const MAX_FIELDS = 32
const FIELD_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,31}$/
const RESERVED = new Set(['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'])

function wholeNumber(value: number | string | null | undefined): number | undefined {
  if (value == null) return undefined
  const text = String(value).trim()
  if (text === '' || !/^\d+$/.test(text)) return undefined
  return Number(text)
}

function fieldNames(text: string): string[] {
  return text
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '')
}

/** Every field's problem in words, or an empty object when the form is valid. */
export function checkTokenForm(f: TokenFormValues): Partial<Record<TokenField, string>> {
  const errors: Partial<Record<TokenField, string>> = {}
  if (f.label.trim().length > MAX_LABEL) errors.label = `Keep the label to ${MAX_LABEL} characters or fewer.`
  if (f.usesKind === 'n') {
    const n = wholeNumber(f.usesN)
    if (n == null || n < 1 || n > MAX_USES)
      errors.usesN = `Enter how many times the code can be used (1–${MAX_USES.toLocaleString('en')}).`
  }
  const names = fieldNames(f.requirements)
  const bad = names.find((n) => !FIELD_NAME.test(n) || RESERVED.has(n))
  if (bad != null)
    errors.requirements = `“${bad.slice(0, 40)}” is not a field name: use short words such as email or name, separated by commas.`
  else if (names.length > MAX_FIELDS) errors.requirements = `Ask for at most ${MAX_FIELDS} details.`
  if (f.approval === 'operator') {
    const s = wholeNumber(f.approvalSeconds)
    if (s == null || s < 1 || s > MAX_WAIT_S)
      errors.approvalSeconds = `Enter how many seconds to wait (1–${MAX_WAIT_S}).`
  }
  return errors
}

/** The createToken input of a valid form. */
export function tokenInput(f: TokenFormValues): CreateTokenInput {
  const input: CreateTokenInput = {
    role: f.role,
    label: f.label.trim(),
    uses: f.usesKind === 'unlimited' ? 'unlimited' : f.usesKind === 'n' ? Number(f.usesN) : 1,
    identityRequirements: [...new Set(fieldNames(f.requirements))],
    approval: f.approval
  }
  if (f.usesKind === 'per-customer') input.mode = 'per-customer'
  if (f.expiresIn !== '') input.expiresInMs = Number(f.expiresIn)
  if (f.approval === 'operator') input.approvalTimeoutMs = Number(f.approvalSeconds) * 1000
  return input
}
