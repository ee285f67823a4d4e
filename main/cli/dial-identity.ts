/**
 * The identity `taleus dial` presents: the link names the fields the merchant requires, so a missing one
 * is asked for on a terminal, or named in the error otherwise (instead of a refusal from the merchant
 * that only says "needs more identity details").
 */
import { createInterface } from 'node:readline/promises'
import type { IdentityBundle } from '../views/console-views.ts'
import { identityFields } from '../bootstrap/identity-requirements.ts'
import { parseLink } from '../bootstrap/link.ts'
import { UsageError } from './cli-error.ts'
import { printable } from './terminal-text.ts'

/** How to ask: a question on a terminal; undefined when nobody can answer (no terminal). */
export type AskField = (field: string) => Promise<string>

/** The fields `link` requires that `identity` lacks (or gives empty). */
export function missingFields(link: string, identity: IdentityBundle | undefined): string[] {
  const required = identityFields(parseLink(link).identityRequirements) ?? []
  return required.filter((field) => {
    const value = identity !== undefined && Object.hasOwn(identity, field) ? identity[field] : undefined
    return typeof value !== 'string' || value.trim() === ''
  })
}

/** An AskField on this process's terminal, or undefined when stdin or stderr is not one. */
export function terminalAsk(): AskField | undefined {
  if (process.stdin.isTTY !== true || process.stderr.isTTY !== true) return undefined
  return async (field) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr })
    try {
      // the field's name is the merchant's (from the link): shown, never obeyed
      return (await rl.question(`taleus: the merchant asks for your ${printable(field)}: `)).trim()
    } finally {
      rl.close()
    }
  }
}

/** `identity` completed with the fields the link requires: asked with `ask`, else a UsageError naming them. */
export async function completeIdentity(
  link: string,
  identity: IdentityBundle | undefined,
  ask: AskField | undefined = terminalAsk()
): Promise<IdentityBundle | undefined> {
  const missing = missingFields(link, identity)
  if (missing.length === 0) return identity
  const example = missing.map((f) => `${f}=…`).join(',')
  const needs = `this link asks for your ${missing.join(', ')}`
  if (ask === undefined) throw new UsageError(`identity-required — ${needs}; pass --identity ${example}`)
  const out: IdentityBundle = { ...identity }
  for (const field of missing) {
    const value = await ask(field)
    if (value === '') throw new UsageError(`identity-required — ${needs}; no ${field} given`)
    Object.defineProperty(out, field, { value, enumerable: true, writable: true, configurable: true })
  }
  return out
}
