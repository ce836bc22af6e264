#!/usr/bin/env bash
# The part of the official image's entrypoint odoo-ci relies on: a first start initialises
# PGDATA with POSTGRES_USER / POSTGRES_PASSWORD and password login from any address.
set -euo pipefail
user=${POSTGRES_USER:-postgres}
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
  echo "Error: POSTGRES_PASSWORD is not set" >&2
  exit 1
fi
mkdir -p "$PGDATA" /run/postgresql
chown -R postgres:postgres "$PGDATA" /run/postgresql
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  su postgres -c "initdb -D '$PGDATA' -U '$user' --pwfile='$pwfile' -A scram-sha-256 -E UTF8 >/dev/null"
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
exec su postgres -c "postgres -D '$PGDATA' -c listen_addresses='*'"
