#!/usr/bin/env bash
# A TEST DOUBLE of /usr/local/bin/healthcheck.sh of the official `mariadb`
# image (MariaDB/mariadb-docker), for the image e2e/images.sh builds from
# Debian's mariadb-server. Same calling convention: the tests named as
# options run in order, the first failure exits non-zero:
#   --connect                    the server accepts a connection (TCP)
#   --innodb_initialized         InnoDB is ready
#   --innodb_buffer_pool_loaded  the buffer pool load has completed
# It logs in as healthcheck with $DATADIR/.my-healthcheck.cnf (written by the
# entrypoint at initialisation), or --defaults-file=FILE; --datadir=DIR
# points at another data directory; --no-defaults uses neither.
# Other tests of the official script (galera, replication, mariadbupgrade)
# are not supported and fail loudly. The operator's probes are TCP checks of
# port 3306; this script is for parity and for people.
set -eo pipefail

DATADIR=/var/lib/mysql
DEFAULTS=""
NODEFAULTS=""
TESTS=()

client() { # SQL
  local opts=()
  if [ -n "$NODEFAULTS" ]; then opts=(--no-defaults)
  else opts=(--defaults-extra-file="${DEFAULTS:-$DATADIR/.my-healthcheck.cnf}"); fi
  mariadb "${opts[@]}" --skip-ssl --skip-column-names --batch -e "$1"
}

connect() {
  # Any answer from the server, even "access denied", shows it is up.
  local out
  if out=$(client 'SELECT 1' 2>&1); then return 0; fi
  case "$out" in
    *"Access denied"*) return 0 ;;
  esac
  echo "healthcheck connect failed: $out" >&2
  return 1
}

innodb_initialized() {
  [ "$(client "SELECT 1 FROM information_schema.ENGINES WHERE engine='innodb' AND support IN ('YES', 'DEFAULT', 'ENABLED')")" = 1 ]
}

innodb_buffer_pool_loaded() {
  local status
  status=$(client "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='Innodb_buffer_pool_load_status'")
  [[ "$status" == "Buffer pool(s) load completed"* ]]
}

for arg; do
  case "$arg" in
    --datadir=*) DATADIR=${arg#*=} ;;
    --defaults-file=*) DEFAULTS=${arg#*=} ;;
    --no-defaults) NODEFAULTS=1 ;;
    --connect | --innodb_initialized | --innodb_buffer_pool_loaded) TESTS+=("${arg#--}") ;;
    --su=* | --su-mysql) ;; # already the mysql user
    *) echo "healthcheck.sh (test double): unsupported option $arg" >&2; exit 2 ;;
  esac
done
[ ${#TESTS[@]} -gt 0 ] || TESTS=(connect)
for t in "${TESTS[@]}"; do
  "$t" || { echo "healthcheck $t failed" >&2; exit 1; }
done
