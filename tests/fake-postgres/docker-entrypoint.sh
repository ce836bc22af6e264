#!/usr/bin/env bash
# The part of the official image's entrypoint odoo-ci relies on (docker-library/postgres,
# docker-entrypoint.sh): a first start initialises PGDATA with POSTGRES_USER /
# POSTGRES_PASSWORD — `initdb` with its default authentication, i.e. `trust` on the local
# socket — and adds password login from any address; a PGDATA that has a PG_VERSION is
# started as it is; the server's arguments come from the command.
set -euo pipefail
user=${POSTGRES_USER:-postgres}
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
  echo "Error: POSTGRES_PASSWORD is not set" >&2
  exit 1
fi
mkdir -p "$PGDATA" /run/postgresql
chown -R postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  su postgres -c "initdb -D '$PGDATA' -U '$user' --pwfile='$pwfile' -E UTF8 >/dev/null"
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
# As the official entrypoint (docker-library/postgres, docker-entrypoint.sh): a first
# argument starting with `-` means `postgres` with those flags, and `postgres ARGS` runs the
# server as the postgres user with ARGS (`docker run postgres:16 postgres -c fsync=off`).
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "${1:-}" != postgres ]; then exec "$@"; fi
shift
args=$(printf ' %q' "$@")
[ $# -gt 0 ] || args=
exec su postgres -c "postgres -D '$PGDATA' -c listen_addresses='*'$args"
