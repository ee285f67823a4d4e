/** The PostgreSQL store of a merchant's cadre of nodes (issue J). */
export { openPgStore, isPostgresUrl, PgStoreConfigError } from './open-pg-store.ts'
export type { PgStoreInit } from './open-pg-store.ts'
export { PgMerchantStore } from './pg-store.ts'
export type { CadreStoreEvents } from './pg-store.ts'
export { MIGRATIONS } from './migrations.ts'
