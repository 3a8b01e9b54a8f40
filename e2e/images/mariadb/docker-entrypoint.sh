#!/usr/bin/env bash
# A TEST DOUBLE of the entrypoint of the official `mariadb` image
# (MariaDB/mariadb-docker, 10.11 docker-entrypoint.sh), for the image
# e2e/images.sh builds from Debian's mariadb-server. It honours the documented
# contract the operator relies on, on an empty data directory only:
#   MARIADB_ROOT_PASSWORD or MARIADB_ROOT_PASSWORD_HASH (a mysql_native_password
#   hash, '*' + upper-case hex of SHA1(SHA1(pw))), MARIADB_ALLOW_EMPTY_ROOT_PASSWORD,
#   MARIADB_RANDOM_ROOT_PASSWORD, MARIADB_ROOT_HOST (default '%': root@host is
#   created beside root@localhost), MARIADB_DATABASE, MARIADB_USER with
#   MARIADB_PASSWORD or MARIADB_PASSWORD_HASH (user@'%', ALL on the database),
#   MARIADB_INITDB_SKIP_TZINFO, MARIADB_HEALTHCHECK_GRANTS, the MYSQL_*
#   aliases and *_FILE variants, and /docker-entrypoint-initdb.d/ (*.sh
#   executed if executable, else sourced; *.sql, *.sql.gz, *.sql.xz, *.sql.zst
#   through the client as root) against a temporary server on the socket only.
#   root@localhost gets the hash after those scripts, as upstream does.
#   A healthcheck@localhost user and $DATADIR/.my-healthcheck.cnf are created
#   for healthcheck.sh.
# Then `exec mariadbd "$@"`; a first argument starting with '-' is taken as an
# option of mariadbd. Started as root it re-runs itself as mysql (setpriv).
# Not supported: replication variables, MARIADB_AUTO_UPGRADE (no upgrades).
set -eo pipefail
shopt -s nullglob

note() { printf '%s 0 [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
warn() { printf '%s 0 [Warn] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2; }
fail() { printf '%s 0 [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2; exit 1; }

# VAR from VAR or VAR_FILE (not both), else the default.
file_env() {
  local var=$1 fileVar="${1}_FILE" def="${2:-}" val
  if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then fail "both $var and $fileVar are set (but are exclusive)"; fi
  val=$def
  if [ "${!var:-}" ]; then val=${!var}; elif [ "${!fileVar:-}" ]; then val=$(<"${!fileVar}"); fi
  export "$var"="$val"
  unset "$fileVar"
}

# MYSQL_X and MARIADB_X end up equal, MARIADB_X winning.
mariadb_file_env() {
  local var=$1; shift
  local maria="MARIADB_${var#MYSQL_}"
  file_env "$var" "$@"
  file_env "$maria" "${!var}"
  if [ "${!maria:-}" ]; then export "$var"="${!maria}"; fi
}

want_help() {
  local arg
  for arg; do
    case "$arg" in
      -'?' | --help | --print-defaults | -V | --version) return 0 ;;
    esac
  done
  return 1
}

get_config() { # option mariadbd-args...
  local conf=$1; shift
  "$@" --verbose --help --log-bin-index="$(mktemp -u)" 2>/dev/null \
    | awk -v conf="$conf" '$1 == conf && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }'
}

setup_env() {
  declare -g DATADIR SOCKET PORT DATABASE_ALREADY_EXISTS
  DATADIR=$(get_config datadir "$@")
  SOCKET=$(get_config socket "$@")
  PORT=$(get_config port "$@")
  mariadb_file_env MYSQL_ROOT_HOST '%'
  mariadb_file_env MYSQL_DATABASE
  mariadb_file_env MYSQL_USER
  mariadb_file_env MYSQL_PASSWORD
  mariadb_file_env MYSQL_ROOT_PASSWORD
  file_env MARIADB_PASSWORD_HASH
  file_env MARIADB_ROOT_PASSWORD_HASH
  : "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:=${MYSQL_ALLOW_EMPTY_PASSWORD:-}}"
  : "${MARIADB_RANDOM_ROOT_PASSWORD:=${MYSQL_RANDOM_ROOT_PASSWORD:-}}"
  : "${MARIADB_INITDB_SKIP_TZINFO:=${MYSQL_INITDB_SKIP_TZINFO:-}}"
  DATABASE_ALREADY_EXISTS=
  if [ -d "$DATADIR/mysql" ]; then DATABASE_ALREADY_EXISTS=true; fi
}

verify_minimum_env() {
  if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ROOT_PASSWORD_HASH" ] \
    && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
    fail "Database is uninitialized and password option is not specified
	You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD"
  fi
  if [ "$MARIADB_USER" = root ]; then
    fail "MARIADB_USER=root: the root user is already created, use MARIADB_ROOT_PASSWORD"
  fi
  if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD$MARIADB_PASSWORD_HASH" ]; then
    warn "MARIADB_USER is set without MARIADB_PASSWORD or MARIADB_PASSWORD_HASH: the user is not created"
  fi
}

create_db_directories() {
  mkdir -p "$DATADIR"
  if [ "$(id -u)" = 0 ]; then
    find "$DATADIR" \! -user mysql -exec chown mysql: '{}' +
    find "${SOCKET%/*}" -maxdepth 0 \! -user mysql -exec chown mysql: '{}' \;
  fi
}

init_database_dir() { # mariadbd args
  note "Initializing database files"
  mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal "${@:2}" \
    --skip-test-db --old-mode='UTF8_IS_UTF8MB3' --default-time-zone=SYSTEM --enforce-storage-engine= \
    --skip-log-bin --expire-logs-days=0 \
    --loose-innodb_buffer_pool_load_at_startup=0 --loose-innodb_buffer_pool_dump_at_shutdown=0
  note "Database files initialized"
}

exec_client() { # client args: root over the socket
  if [ -n "$MARIADB_DATABASE" ]; then set -- --database="$MARIADB_DATABASE" "$@"; fi
  mariadb --protocol=socket -uroot -hlocalhost --socket="$SOCKET" "$@"
}

process_sql() { # [--dont-use-mysql-root-password] client args
  if [ "$1" = --dont-use-mysql-root-password ]; then
    shift
    MYSQL_PWD='' exec_client "$@"
  else
    MYSQL_PWD=$MARIADB_ROOT_PASSWORD exec_client "$@"
  fi
}

temp_server_start() { # mariadbd args
  "$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" --wsrep_on=OFF \
    --expire-logs-days=0 --skip-slave-start \
    --loose-innodb_buffer_pool_load_at_startup=0 \
    --skip-ssl &
  declare -g MARIADB_PID=$!
  note "Waiting for server startup"
  local i
  for i in {30..0}; do
    if process_sql --dont-use-mysql-root-password --database=mysql <<<'SELECT 1' &>/dev/null; then break; fi
    sleep 1
  done
  [ "$i" != 0 ] || fail "Unable to start server."
}

temp_server_stop() {
  kill "$MARIADB_PID"
  wait "$MARIADB_PID"
}

sql_escape_string_literal() {
  local newline=$'\n'
  local escaped=${1//\\/\\\\}
  escaped="${escaped//$newline/\\n}"
  echo "${escaped//\'/\\\'}"
}

random_password() {
  tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32
}

# SQL creating healthcheck@{127.0.0.1,::1,localhost}, and its client file.
healthcheck_users() {
  local password grant=${MARIADB_HEALTHCHECK_GRANTS:-USAGE} host
  password=$(random_password)
  for host in 127.0.0.1 ::1 localhost; do
    echo "CREATE USER IF NOT EXISTS healthcheck@'$host' IDENTIFIED BY '$password';"
    echo "SET PASSWORD FOR healthcheck@'$host' = PASSWORD('$password');"
    echo "GRANT $grant ON *.* TO healthcheck@'$host';"
  done
  (
    umask 0077
    printf '[mariadb-client]\nport=%s\nsocket=%s\nuser=healthcheck\npassword=%s\nprotocol=tcp\n' \
      "$PORT" "$SOCKET" "$password" >"$DATADIR/.my-healthcheck.cnf"
  )
}

load_timezones() {
  [ -z "$MARIADB_INITDB_SKIP_TZINFO" ] && [ -d /usr/share/zoneinfo ] || return 0
  local tables=(time_zone time_zone_leap_second time_zone_name time_zone_transition time_zone_transition_type) t
  {
    for t in "${tables[@]}"; do echo "/*!100400 ALTER TABLE $t TRANSACTIONAL=0 */;"; done
    mariadb-tzinfo-to-sql /usr/share/zoneinfo | sed 's/Local time zone must be set--see zic manual page/FCTY/'
    for t in "${tables[@]}"; do echo "/*!100400 ALTER TABLE $t TRANSACTIONAL=1 */;"; done
  } | process_sql --dont-use-mysql-root-password --database=mysql
}

setup_db() {
  load_timezones
  if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
    MARIADB_ROOT_PASSWORD=$(random_password)
    export MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD=$MARIADB_ROOT_PASSWORD
    note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
  fi
  local rootPassword rootCreate='' rootLocalhostPass='' createDatabase='' createUser='' userGrants=''
  rootPassword=$(sql_escape_string_literal "$MARIADB_ROOT_PASSWORD")
  if [ -n "$MARIADB_ROOT_HOST" ] && [ "$MARIADB_ROOT_HOST" != localhost ]; then
    local identified="IDENTIFIED BY '$rootPassword'"
    if [ -n "$MARIADB_ROOT_PASSWORD_HASH" ]; then identified="IDENTIFIED BY PASSWORD '$MARIADB_ROOT_PASSWORD_HASH'"; fi
    rootCreate="CREATE USER 'root'@'$MARIADB_ROOT_HOST' $identified;
      GRANT ALL ON *.* TO 'root'@'$MARIADB_ROOT_HOST' WITH GRANT OPTION;
      GRANT PROXY ON ''@'%' TO 'root'@'$MARIADB_ROOT_HOST' WITH GRANT OPTION;"
  fi
  if [ -z "$MARIADB_ROOT_PASSWORD_HASH" ]; then
    # With a hash, root@localhost gets it after /docker-entrypoint-initdb.d.
    rootLocalhostPass="SET PASSWORD FOR 'root'@'localhost'= PASSWORD('$rootPassword');"
  fi
  if [ -n "$MARIADB_DATABASE" ]; then
    note "Creating database $MARIADB_DATABASE"
    createDatabase="CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
  fi
  if [ -n "$MARIADB_USER" ] && [ -n "$MARIADB_PASSWORD$MARIADB_PASSWORD_HASH" ]; then
    note "Creating user $MARIADB_USER"
    if [ -n "$MARIADB_PASSWORD_HASH" ]; then
      createUser="CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY PASSWORD '$MARIADB_PASSWORD_HASH';"
    else
      createUser="CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$(sql_escape_string_literal "$MARIADB_PASSWORD")';"
    fi
    if [ -n "$MARIADB_DATABASE" ]; then
      note "Giving user $MARIADB_USER access to schema $MARIADB_DATABASE"
      userGrants="GRANT ALL ON \`${MARIADB_DATABASE//_/\\_}\`.* TO '$MARIADB_USER'@'%';"
    fi
  fi
  note "Securing system users (equivalent to running mysql_secure_installation)"
  process_sql --dont-use-mysql-root-password --database=mysql --binary-mode <<EOSQL
SET @orig_sql_log_bin= @@SESSION.SQL_LOG_BIN;
SET @@SESSION.SQL_LOG_BIN=0;
SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname,'\'');
$rootLocalhostPass
$rootCreate
$(healthcheck_users)
SET @@SESSION.SQL_LOG_BIN=@orig_sql_log_bin;
$createDatabase
$createUser
$userGrants
EOSQL
}

process_init_files() { # files...
  echo
  local f
  for f; do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then
          note "$0: running $f"; "$f"
        else
          note "$0: sourcing $f"
          # shellcheck disable=SC1090
          . "$f"
        fi ;;
      *.sql) note "$0: running $f"; process_sql <"$f"; echo ;;
      *.sql.gz) note "$0: running $f"; gunzip -c "$f" | process_sql; echo ;;
      *.sql.xz) note "$0: running $f"; xzcat "$f" | process_sql; echo ;;
      *.sql.zst) note "$0: running $f"; zstd -dc "$f" | process_sql; echo ;;
      *) warn "$0: ignoring $f" ;;
    esac
    echo
  done
}

mariadb_init() { # mariadbd args
  init_database_dir "$@"
  note "Starting temporary server"
  temp_server_start "$@"
  note "Temporary server started."
  setup_db
  process_init_files /docker-entrypoint-initdb.d/*
  if [ -n "$MARIADB_ROOT_PASSWORD_HASH" ]; then
    note "Setting root@localhost password hash"
    process_sql --dont-use-mysql-root-password --binary-mode <<EOSQL
SET @@SESSION.SQL_LOG_BIN=0;
SET PASSWORD FOR 'root'@'localhost'= '$MARIADB_ROOT_PASSWORD_HASH';
EOSQL
  fi
  note "Stopping temporary server"
  temp_server_stop
  note "Temporary server stopped"
  echo
  note "MariaDB init process done. Ready for start up."
  echo
}

main() {
  if [ "${1:0:1}" = '-' ]; then set -- mariadbd "$@"; fi
  if { [ "$1" = mariadbd ] || [ "$1" = mysqld ]; } && ! want_help "$@"; then
    note "Entrypoint script for MariaDB Server $(mariadbd --version | awk '{ print $3 }') started."
    setup_env "$@"
    create_db_directories
    if [ "$(id -u)" = 0 ]; then
      note "Switching to dedicated user 'mysql'"
      exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
    fi
    if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
      verify_minimum_env
      ls /docker-entrypoint-initdb.d/ >/dev/null
      mariadb_init "$@"
    fi
  fi
  exec "$@"
}

main "$@"
