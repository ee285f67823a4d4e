/**
 * The PostgreSQL store's schema, as numbered migrations kept in the repository. applyMigrations runs at
 * every start: in one transaction under an advisory lock, so cadre nodes starting at once apply each
 * migration exactly once (the others wait for the lock, then find it applied).
 */
import type { PoolClient } from 'pg'
import { StoreNewerError } from '../errors.ts'

/** One schema change; `id` only grows, a migration is never edited once released. */
export interface Migration {
  id: number
  name: string
  sql: string
}

/** Every migration, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'cadre store',
    sql: `
      -- secrets the whole cadre shares: the token secret and the merchant's peer key
      CREATE TABLE cadre_secrets (
        name text PRIMARY KEY,
        value bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE tokens (
        token_id text PRIMARY KEY,
        token_hash text NOT NULL UNIQUE,
        label text NOT NULL,
        role text NOT NULL,
        uses integer,                       -- NULL: unlimited
        used integer NOT NULL DEFAULT 0 CHECK (used >= 0),
        expires_at bigint,                  -- epoch ms; NULL: never
        revoked boolean NOT NULL DEFAULT false,
        identity_requirements jsonb NOT NULL,
        approval text NOT NULL,
        approval_timeout_ms bigint NOT NULL,
        created_at bigint NOT NULL,
        extra jsonb NOT NULL DEFAULT '{}',  -- fields later issues add to a token
        rev bigint NOT NULL DEFAULT 0       -- bumped by every change: mirrors keep the newest
      );
      CREATE TABLE tallies (
        tally_id text PRIMARY KEY,
        status text NOT NULL,
        direction text NOT NULL,
        node text NOT NULL,
        session_id text NOT NULL,
        token_id text,
        counterparty_peer_id text NOT NULL,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        record jsonb NOT NULL,
        rev bigint NOT NULL DEFAULT 0
      );
      CREATE INDEX tallies_newest ON tallies (created_at DESC, tally_id DESC);
      CREATE INDEX tallies_open ON tallies (node, status) WHERE status IN ('draft', 'pending');
      CREATE TABLE audit (
        id bigserial PRIMARY KEY,
        node text NOT NULL,
        session_id text NOT NULL,
        at bigint NOT NULL,
        event jsonb NOT NULL,
        -- issue G's hash chain: filled when the chain is on (see audit seam in pg-audit.ts)
        prev_hash text,
        hash text
      );
      CREATE INDEX audit_session ON audit (session_id, id);
      CREATE INDEX audit_newest ON audit (at DESC, id DESC);
      CREATE TABLE approvals (
        session_id text PRIMARY KEY,
        node text NOT NULL,
        view jsonb NOT NULL,
        status text NOT NULL DEFAULT 'pending',  -- pending | approve | reject | timeout
        deadline bigint NOT NULL,
        decided_at bigint,
        decided_by text
      );
      CREATE INDEX approvals_pending ON approvals (node) WHERE status = 'pending';
      CREATE TABLE nodes (
        node text PRIMARY KEY,
        peer_id text NOT NULL,
        seen_at timestamptz NOT NULL DEFAULT now()
      );
    `
  },
  {
    id: 2,
    name: 'node addresses',
    // every node's listen addresses, so any node's console can put the whole cadre in a link
    sql: `ALTER TABLE nodes ADD COLUMN addrs jsonb NOT NULL DEFAULT '[]'`
  },
  {
    id: 3,
    name: 'audit hash chain',
    // issue G's chain, one per node: `body` is the record's text as hashed, `audit_head` the node's last
    // hash (written with each batch, so records cut from the end of a node's chain are noticed)
    sql: `ALTER TABLE audit ADD COLUMN body text;
          ALTER TABLE nodes ADD COLUMN audit_head text`
  },
  {
    id: 4,
    name: 'tally documents',
    // issue I's documents and their index, shared by the cadre so any node serves any tally's document:
    // `tally_docs` is the index (the entry as jsonb; `revoked` is its own column, and once true stays
    // true), `tally_chunks` automerge-repo's storage (`key` the storage key, `doc` its first part, the
    // document id, for loadRange; `seq` keeps the order chunks were first saved in)
    sql: `
      CREATE TABLE tally_docs (
        tally_id text PRIMARY KEY,
        document_id text NOT NULL UNIQUE,
        revoked boolean NOT NULL DEFAULT false,
        entry jsonb NOT NULL,
        rev bigint NOT NULL DEFAULT 0
      );
      CREATE TABLE tally_chunks (
        key text[] PRIMARY KEY,
        doc text NOT NULL,
        data bytea NOT NULL,
        seq bigserial NOT NULL
      );
      CREATE INDEX tally_chunks_doc ON tally_chunks (doc, seq);
    `
  }
]

/** Advisory lock key of the migrations ('taleus' in ASCII, a constant every node agrees on). */
const MIGRATION_LOCK = 0x74616c657573

/** Create `schema` if missing and bring it to the newest migration; returns the ids applied now. */
export async function applyMigrations(client: PoolClient, schema: string): Promise<number[]> {
  const applied: number[] = []
  await client.query('BEGIN')
  try {
    // the lock ends with the transaction: a node that waited sees the finished schema
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`)
    await client.query(`SET LOCAL search_path TO ${ident(schema)}`)
    await client.query(
      'CREATE TABLE IF NOT EXISTS migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())'
    )
    const done = new Set(
      (await client.query<{ id: number }>('SELECT id FROM migrations')).rows.map((r) => r.id)
    )
    // a newer node of the cadre moved the schema on: this one would miss what it keeps there
    const known = MIGRATIONS.at(-1)?.id ?? 0
    const newest = Math.max(0, ...done)
    if (newest > known) throw new StoreNewerError(`the database schema "${schema}"`, newest, known)
    for (const m of MIGRATIONS) {
      if (done.has(m.id)) continue
      await client.query(m.sql)
      await client.query('INSERT INTO migrations (id, name) VALUES ($1, $2)', [m.id, m.name])
      applied.push(m.id)
    }
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  }
  return applied
}

/** A schema name as a quoted SQL identifier (names are checked by the caller: [a-z_][a-z0-9_]*). */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
