/** The merchant store: lowdb-backed tokens, journaled tallies and audit trail, and the hooks over them. */
export { openStore, LowdbMerchantStore } from './merchant-store.ts'
export type { StoreInit } from './merchant-store.ts'
export type { LocalNode, MerchantStore, StoreEvents } from './types.ts'
export {
  StoreClosedError,
  StoreCorruptError,
  StoreFullError,
  StoreInputError,
  StoreLockedError,
  StoreWriteError,
  UnknownTokenError
} from './errors.ts'
export type { StoreWriteFailure } from './errors.ts'
export { AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT } from './audit-log.ts'
export { DEFAULT_APPROVAL_TIMEOUT_MS } from './token-book.ts'
