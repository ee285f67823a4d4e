/**
 * Identity requirements in both forms integrators write them: the list of field names (`['email']`) and the
 * seed's object form (`{ email: true }`, a field is required when its value is true).
 */

/** Fields A requires from B: a list of names, or an object whose true-valued keys are required. */
export type IdentityRequirements = readonly string[] | Readonly<Record<string, boolean>>

/** The required field names of either form, in order and without duplicates; undefined when not a valid form. */
export function identityFields(requirements: unknown): string[] | undefined {
  if (requirements == null) return []
  if (Array.isArray(requirements)) {
    if (!requirements.every((f) => typeof f === 'string')) return undefined
    return [...new Set(requirements as string[])]
  }
  if (typeof requirements !== 'object') return undefined
  const fields: string[] = []
  for (const [field, required] of Object.entries(requirements)) {
    if (typeof required !== 'boolean') return undefined
    if (required) fields.push(field)
  }
  return fields
}
