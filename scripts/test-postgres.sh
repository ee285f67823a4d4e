#!/usr/bin/env bash
# PostgreSQL for the cadre store's tests (issue J): installs Debian's server when missing, starts it, and makes
# a test role and database. Idempotent and fast when all is there. Needs root (CI and these machines run as
# root). Prints the test database's URL as its last line.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
  echo "postgres: installing postgresql from Debian" >&2
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >/dev/null
fi
PG_VERSION="$(ls /etc/postgresql | sort -n | tail -1)"
if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
  pg_ctlcluster "$PG_VERSION" main start >&2
fi
# a role and a database for the tests only (the password is a test fixture, reachable from 127.0.0.1 only)
su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'taleus_test'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE taleus_test LOGIN PASSWORD 'taleus_test' CREATEDB\"" >&2
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'taleus_test'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE DATABASE taleus_test OWNER taleus_test\"" >&2
# owned by the test role even when an earlier set-up created it otherwise (the tests create schemas)
su postgres -c "psql -qc \"ALTER DATABASE taleus_test OWNER TO taleus_test\"" >&2
echo "postgres: PostgreSQL $PG_VERSION running" >&2
echo "postgres://taleus_test:taleus_test@127.0.0.1:5432/taleus_test"
