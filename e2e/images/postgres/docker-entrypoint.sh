#!/usr/bin/env bash
# A TEST DOUBLE of the entrypoint of the official `postgres` image
# (docker-library/postgres, docker-entrypoint.sh, Debian variant), for the
# image e2e/images.sh builds from Debian's postgresql-15. It honours the
# documented contract the operator relies on:
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
#   POSTGRES_USER (default postgres), POSTGRES_DB (default: the user),
#   PGDATA, POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR,
#   POSTGRES_HOST_AUTH_METHOD (the `host all all all` line of pg_hba.conf;
#   default: password_encryption, scram-sha-256), the *_FILE variants, and
#   /docker-entrypoint-initdb.d/ (*.sh executed if executable, else sourced;
#   *.sql, *.sql.gz, *.sql.xz, *.sql.zst through psql) run once, on an empty
#   PGDATA, against a temporary server listening on the socket only.
# Then `exec postgres "$@"`; a first argument starting with '-' is taken as
# an option of postgres. Started as root, it fixes ownership and re-runs
# itself as postgres (setpriv instead of gosu). Not supported: nss_wrapper
# for arbitrary uids (run as 999), POSTGRES_INITDB_WALDIR ownership as root.
set -Eeo pipefail

note() { printf '%s [entrypoint] %s\n' "$(date '+%F %T')" "$*"; }
fail() { note "error: $*" >&2; exit 1; }

# VAR from VAR or VAR_FILE (not both), else the default.
file_env() {
  local var=$1 fileVar="${1}_FILE" def="${2:-}" val
  if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then fail "both $var and $fileVar are set (but are exclusive)"; fi
  val=$def
  if [ "${!var:-}" ]; then val=${!var}; elif [ "${!fileVar:-}" ]; then val=$(<"${!fileVar}"); fi
  export "$var"="$val"
  unset "$fileVar"
}

setup_env() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  DATABASE_ALREADY_EXISTS=
  if [ -s "$PGDATA/PG_VERSION" ]; then DATABASE_ALREADY_EXISTS=true; fi
}

create_db_directories() {
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" || :
  mkdir -p /var/run/postgresql || :
  chmod 03775 /var/run/postgresql || :
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
    mkdir -p "$POSTGRES_INITDB_WALDIR"
    chmod 700 "$POSTGRES_INITDB_WALDIR"
  fi
  if [ "$(id -u)" = 0 ]; then
    find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
  fi
}

verify_minimum_env() {
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    fail "Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, \"-e POSTGRES_PASSWORD=password\" on \"docker run\".
       (or POSTGRES_HOST_AUTH_METHOD=trust, which is not recommended)"
  fi
  if [ "${#POSTGRES_PASSWORD}" -ge 100 ]; then
    note "warning: POSTGRES_PASSWORD has 100 characters or more; psql may cut it"
  fi
}

init_database_dir() {
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
    set -- --waldir "$POSTGRES_INITDB_WALDIR" "$@"
  fi
  # POSTGRES_INITDB_ARGS is split by the shell, as in the official image.
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    $POSTGRES_INITDB_ARGS "$@"
}

# psql as the superuser over the socket; POSTGRES_DB unless --dbname is given.
process_sql() {
  local query_runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  if [ -n "$POSTGRES_DB" ]; then query_runner+=(--dbname "$POSTGRES_DB"); fi
  PGHOST='' PGHOSTADDR='' "${query_runner[@]}" "$@"
}

# POSTGRES_DB='' leaves --dbname to the caller; db= sees the real name.
# shellcheck disable=SC2097,SC2098
setup_db() {
  local exists
  exists=$(POSTGRES_DB='' process_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<-'EOSQL'
		SELECT 1 FROM pg_database WHERE datname = :'db' ;
	EOSQL
  )
  if [ -z "$exists" ]; then
    POSTGRES_DB='' process_sql --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
    printf '\n'
  fi
}

setup_hba_conf() { # postgres args
  if [ "${1:-}" = postgres ]; then shift; fi
  local auth
  auth=$(postgres -C password_encryption "$@")
  : "${POSTGRES_HOST_AUTH_METHOD:=$auth}"
  {
    printf '\n'
    if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
      printf '# warning trust is enabled for all connections\n'
    fi
    printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
  } >>"$PGDATA/pg_hba.conf"
}

temp_server_start() { # postgres args
  if [ "${1:-}" = postgres ]; then shift; fi
  set -- "$@" -c listen_addresses='' -p "${PGPORT:-5432}"
  PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@")" -w start
}

temp_server_stop() {
  PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
}

process_init_files() { # files...
  printf '\n'
  local f
  for f; do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then
          note "running $f"; "$f"
        else
          note "sourcing $f"
          # shellcheck disable=SC1090
          . "$f"
        fi ;;
      *.sql) note "running $f"; process_sql -f "$f"; printf '\n' ;;
      *.sql.gz) note "running $f"; gunzip -c "$f" | process_sql; printf '\n' ;;
      *.sql.xz) note "running $f"; xzcat "$f" | process_sql; printf '\n' ;;
      *.sql.zst) note "running $f"; zstd -dc "$f" | process_sql; printf '\n' ;;
      *) note "ignoring $f" ;;
    esac
    printf '\n'
  done
}

want_help() {
  local arg
  for arg; do
    case "$arg" in
      -'?' | --help | --describe-config | -V | --version) return 0 ;;
    esac
  done
  return 1
}

main() {
  if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
  if [ "$1" = postgres ] && ! want_help "$@"; then
    setup_env
    create_db_directories
    if [ "$(id -u)" = 0 ]; then
      exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
    fi
    if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
      verify_minimum_env
      # Fail before initdb if the scripts cannot be read (as the official image).
      ls /docker-entrypoint-initdb.d/ >/dev/null
      init_database_dir
      setup_hba_conf "$@"
      export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
      temp_server_start "$@"
      setup_db
      process_init_files /docker-entrypoint-initdb.d/*
      temp_server_stop
      unset PGPASSWORD
      note "PostgreSQL init process complete; ready for start up."
    else
      note "PostgreSQL Database directory appears to contain a database; Skipping initialization"
    fi
  fi
  exec "$@"
}

main "$@"
