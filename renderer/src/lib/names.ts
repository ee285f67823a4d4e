/** A customer's name from the identity they gave: `name`, else `email`; undefined when neither. */
import type { IdentityBundle } from '../../../preload/contract.ts'

/** The name to show for an identity bundle. */
export function nameOf(bundle: IdentityBundle | undefined): string | undefined {
  if (bundle == null) return undefined
  const name = bundle['name']?.trim()
  if (name != null && name !== '') return name
  const email = bundle['email']?.trim()
  return email != null && email !== '' ? email : undefined
}
