# shellcheck shell=bash
# The self-test of the images e2e/images.sh builds, without a kubelet: each
# image's tar is unpacked and run by runc the way the operator's pods run it
# (the image's Entrypoint/Cmd/Env/User, or the operator's args and env; a
# read-only root; no capabilities; the data volume, the init-script
# ConfigMap and the ACL Secret as bind mounts, emptyDirs as bound 0777
# directories, /etc/hosts, hostname and resolv.conf as the kubelet adds
# them). Every "pod" gets a network namespace of its own with only loopback,
# so the default ports are used and nothing listens on the machine's
# interfaces; the exporter, the client and the backup Job join the
# database's namespace. Every wait has a timeout; containers, namespaces and
# files are removed at the end, even on failure (the containers' logs of a
# failed run stay in $IMAGES/selftest/failed-logs).
# Sourced by e2e/images.sh (`selftest [IMAGE...]`); ~50 s for all.

ST_PASSED=0
ST_FAILED=0
ST_CONTAINERS=()
ST_NAMESPACES=()
ST_DIR=""

st_say() { printf '[selftest %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

st_cleanup() {
  local c ns
  for c in "${ST_CONTAINERS[@]}"; do
    runc --root "$ST_DIR/runc" kill "$c" KILL >/dev/null 2>&1 || true
    runc --root "$ST_DIR/runc" delete --force "$c" >/dev/null 2>&1 || true
  done
  for ns in "${ST_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rmdir /sys/fs/cgroup/*/servicedb-selftest 2>/dev/null || true
  ST_CONTAINERS=() ST_NAMESPACES=()
  [ -z "$ST_DIR" ] || rm -rf "$ST_DIR"
}

# --- checks ------------------------------------------------------------------

st_pass() { ST_PASSED=$((ST_PASSED + 1)); st_say "PASS $*"; }
st_fail() { ST_FAILED=$((ST_FAILED + 1)); st_say "FAIL $*"; }

check() { # description command...: passes when the command succeeds
  local desc=$1; shift
  if "$@" >"$ST_DIR/last.out" 2>&1; then st_pass "$desc"; else
    st_fail "$desc"; sed 's/^/    | /' "$ST_DIR/last.out" | tail -n 15
  fi
}

check_fails() { # description command...: passes when the command fails
  local desc=$1; shift
  if "$@" >"$ST_DIR/last.out" 2>&1; then
    st_fail "$desc (it succeeded)"; sed 's/^/    | /' "$ST_DIR/last.out" | tail -n 5
  else st_pass "$desc"; fi
}

check_says() { # description expected-regex command...: the output matches, whatever the exit status
  local desc=$1 want=$2; shift 2
  "$@" >"$ST_DIR/last.out" 2>&1 || true
  if grep -Eq "$want" "$ST_DIR/last.out"; then st_pass "$desc"; else
    st_fail "$desc (wanted /$want/)"; sed 's/^/    | /' "$ST_DIR/last.out" | tail -n 15
  fi
}

check_output() { # description expected-regex command...
  local desc=$1 want=$2; shift 2
  if "$@" >"$ST_DIR/last.out" 2>&1 && grep -Eq "$want" "$ST_DIR/last.out"; then st_pass "$desc"; else
    st_fail "$desc (wanted /$want/)"; sed 's/^/    | /' "$ST_DIR/last.out" | tail -n 15
  fi
}

wait_for() { # description seconds command...
  local desc=$1 seconds=$2 deadline; shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then st_fail "$desc within ${seconds}s"; return 1; fi
    sleep 0.5
  done
  st_pass "$desc"
}

# --- pods and containers -------------------------------------------------------

pod() { # name: a network namespace with loopback up, its path in $NET
  local ns=sdb-selftest-$$-$1
  ip netns add "$ns"
  ST_NAMESPACES+=("$ns")
  ip netns exec "$ns" ip link set lo up
  NET=/run/netns/$ns
}

in_pod() { # netns-path command...: a host command in the pod's network
  ip netns exec "$(basename "$1")" "${@:2}"
}

rootfs_of() { # image id: its layer, unpacked once
  local dir=$ST_DIR/rootfs/$1 tar
  if [ ! -d "$dir" ]; then
    tar=$(cmd_path "$1") || return 1
    python3 "$RECIPES/oci.py" unpack "$tar" "$dir"
  fi
  echo "$dir"
}

# The bundle of container `name`: the image's rootfs, and a config.json that
# has what the kubelet adds: /etc/hosts, /etc/hostname, /etc/resolv.conf.
bundle() { # name image netns [oci.py runtime-config flags...]
  local name=$1 image=$2 netns=$3; shift 3
  local dir=$ST_DIR/bundles/$name rootfs
  rootfs=$(rootfs_of "$image")
  mkdir -p "$dir"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$dir/hosts"
  echo "$name" >"$dir/hostname"
  printf 'nameserver 127.0.0.1\noptions ndots:5\n' >"$dir/resolv.conf"
  python3 "$RECIPES/oci.py" runtime-config --image "$(cmd_path "$image")" --template "$ST_DIR/template/config.json" \
    --rootfs "$rootfs" --bundle "$dir" --netns "$netns" --hostname "$name-$$" \
    --mount "bind:$dir/hosts:/etc/hosts" --mount "bind:$dir/hostname:/etc/hostname" \
    --mount "bind:$dir/resolv.conf:/etc/resolv.conf" "$@"
  ST_CONTAINERS+=("$name")
}

# run name image netns [oci.py runtime-config flags...]: detached, output in logs/name
run() {
  bundle "$@"
  runc --root "$ST_DIR/runc" run --detach --bundle "$ST_DIR/bundles/$1" "$1" >>"$ST_DIR/logs/$1" 2>&1 </dev/null
}

# run_once name image netns [flags...]: in the foreground, 30 s at most, output on stdout
run_once() {
  bundle "$@"
  timeout 30 runc --root "$ST_DIR/runc" run --bundle "$ST_DIR/bundles/$1" "$1" </dev/null
}

exec_in() { # container [--env K=V]... command...: as the container's user, 30 s at most
  local c=$1 opts=(); shift
  while [ "${1:-}" = --env ]; do opts+=(--env "$2"); shift 2; done
  timeout 30 runc --root "$ST_DIR/runc" exec "${opts[@]}" "$c" "$@"
}

halt() { stop "$@" || st_fail "$1 stops on SIG${2:-TERM} within 30 s"; }

running() { runc --root "$ST_DIR/runc" state "$1" 2>/dev/null | grep -q '"status": "running"'; }

stop() { # container [signal]: waits 30 s for it to exit, else kills it (and fails); removes it
  local c=$1 sig=${2:-TERM} status=0
  runc --root "$ST_DIR/runc" kill "$c" "$sig" >/dev/null 2>&1 || true
  for _ in $(seq 60); do running "$c" || break; sleep 0.5; done
  if running "$c"; then status=1; fi
  runc --root "$ST_DIR/runc" delete --force "$c" >/dev/null 2>&1 || true
  return $status
}

log_has() { grep -Eq "$2" "$ST_DIR/logs/$1"; }
show_log() { st_say "last lines of $1:"; tail -n 25 "$ST_DIR/logs/$1" | sed 's/^/    | /'; }

tcp_open() { # netns port
  in_pod "$1" timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$2"
}

metrics_up() { # netns port metric: the exporter says the database is up
  in_pod "$1" curl -fsS --max-time 5 "http://127.0.0.1:$2/metrics" | grep -Eq "^$3 1(\.0)?$"
}

emptydir() { # mount-point: a --mount of a new 0777 directory, as the kubelet's emptyDir
  local dir; dir=$(mktemp -d "$ST_DIR/emptydirs/XXXXXX")
  chmod 0777 "$dir"
  echo "bind:$dir:$1"
}

volume() { # name: a data volume as the e2e PV provisioner makes it (0777)
  local dir=$ST_DIR/volumes/$1
  mkdir -p "$dir"; chmod 0777 "$dir"
  echo "$dir"
}

built() { cmd_path "$1" >/dev/null 2>&1; }

# --- secrets the operator would derive ------------------------------------------

scram_verifier() { # password: SCRAM-SHA-256 verifier as the operator makes it (postgres-protocol); ASCII passwords only (no SASLprep)
  python3 - "$1" <<'PY'
import base64, hashlib, hmac, os, sys
salt, iterations = os.urandom(16), 4096
salted = hashlib.pbkdf2_hmac("sha256", sys.argv[1].encode(), salt, iterations)
client = hmac.new(salted, b"Client Key", "sha256").digest()
server = hmac.new(salted, b"Server Key", "sha256").digest()
b64 = lambda b: base64.b64encode(b).decode()
print("SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, b64(salt), b64(hashlib.sha256(client).digest()), b64(server)))
PY
}

native_hash() { # password: mysql_native_password, '*' + HEX(SHA1(SHA1(pw)))
  python3 -c 'import hashlib, sys; print("*" + hashlib.sha1(hashlib.sha1(sys.argv[1].encode()).digest()).hexdigest().upper())' "$1"
}

sha256_hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# A backup Job of the tools image in the database's pod network, with the
# env the operator gives it (src/builders/backup.rs), into a volume.
check_backup() { # engine netns port database admin-user admin-password
  built servicedb-tools || return 0
  local backups; backups=$(volume "backups-$1")
  check "servicedb-tools: \`servicedb backup\` of $1 into a volume, as 65532" run_once "backup-$1" servicedb-tools "$2" \
    --mount "$(emptydir /tmp)" --mount "bind:$backups:/backups" \
    --env "SERVICEDB_ENGINE=$1" --env SERVICEDB_DB_HOST=127.0.0.1 --env "SERVICEDB_DB_PORT=$3" \
    --env "SERVICEDB_DB_NAME=$4" --env "SERVICEDB_DB_USERNAME=$5" --env "SERVICEDB_DB_PASSWORD=$6" \
    --env SERVICEDB_LOG_FORMAT=json \
    --env "SERVICEDB_BACKUP_DIR=/backups/$1"
  check "servicedb-tools: the $1 backup has files" test -n "$(find "$backups" -type f -size +0 2>/dev/null)"
}

# --- the tests ------------------------------------------------------------------

test_pause() {
  local net; pod pause; net=$NET
  check_output "pause: /pause -v prints its version" 'pause\.c v3\.10' run_once pause-version pause "$net" --args '["-v"]'
  run pause pause "$net"
  sleep 1
  check "pause: runs as 65535 with a read-only root" running pause
  check "pause: exits on SIGTERM" stop pause TERM
}

pg_psql() { # password user command...: psql over TCP inside the postgres container
  exec_in pg --env "PGPASSWORD=$1" psql --no-psqlrc -h 127.0.0.1 -U "$2" -v ON_ERROR_STOP=1 -tA "${@:3}"
}

start_postgres() { # netns data init [args-json]
  local flags=()
  [ -z "${4:-}" ] || flags=(--args "$4")
  run pg postgres "$1" "${flags[@]}" \
    --mount "$(emptydir /tmp)" --mount "$(emptydir /var/run/postgresql)" \
    --mount "bind:$2:/var/lib/postgresql/data" --mount "bind:$3:/docker-entrypoint-initdb.d:ro" \
    --env POSTGRES_USER=postgres --env POSTGRES_PASSWORD=admin-Secret.1 \
    --env PGDATA=/var/lib/postgresql/data/pgdata \
    --env POSTGRES_HOST_AUTH_METHOD=scram-sha-256 --env POSTGRES_INITDB_ARGS=--auth-host=scram-sha-256 \
    --env SERVICEDB_APP_USERNAME=orders --env SERVICEDB_APP_DATABASE=orders \
    --env "SERVICEDB_APP_PASSWORD_SCRAM=$(scram_verifier app-Secret.2)"
  # The operator's probe.
  wait_for "postgres: pg_isready (the operator's probe) answers" 90 \
    exec_in pg pg_isready --host=127.0.0.1 --port=5432 --timeout=3 || { show_log pg; return 1; }
}

test_postgres() {
  local net data init
  pod postgres; net=$NET; data=$(volume pg-data); init=$ST_DIR/pg-init
  # The operator's init script (its ConfigMap, mode 0555), an SQL file and a
  # script without the executable bit, which is sourced.
  mkdir -p "$init"
  install -m 0555 "$REPO/src/engine/postgres/create-app-login.sh" "$init/10-create-app-login.sh"
  printf 'CREATE TABLE selftest_init (at timestamptz DEFAULT now());\nINSERT INTO selftest_init DEFAULT VALUES;\n' \
    >"$init/20-init.sql"
  # shellcheck disable=SC2016 # expanded by the entrypoint that sources it
  printf 'psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -c "CREATE ROLE sourced_role"\n' \
    >"$init/30-sourced.sh"
  chmod 0444 "$init/20-init.sql" "$init/30-sourced.sh"

  start_postgres "$net" "$data" "$init" || return 0
  check "postgres: runs as 999" bash -c "[ \"\$(stat -c %u '$data/pgdata')\" = 999 ]"
  check_output "postgres: the app login (from the SCRAM verifier) connects with its password" '^orders$' \
    pg_psql app-Secret.2 orders -d orders -c 'SELECT current_user'
  check_fails "postgres: a wrong password is refused" pg_psql wrong orders -d orders -c 'SELECT 1'
  check_output "postgres: the superuser connects over TCP (scram-sha-256)" '^scram-sha-256$' \
    pg_psql admin-Secret.1 postgres -d postgres -c 'SHOW password_encryption'
  check_output "postgres: POSTGRES_DB defaults to the user" '^1$' \
    pg_psql admin-Secret.1 postgres -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'postgres'"
  check_output "postgres: the .sql and the sourced .sh init files ran" '^1$' \
    pg_psql admin-Secret.1 postgres -d postgres -c "SELECT count(*) FROM selftest_init, pg_roles WHERE rolname = 'sourced_role'"
  check_output "postgres: listens on all addresses" "^\*$" \
    pg_psql admin-Secret.1 postgres -d postgres -c 'SHOW listen_addresses'
  check_fails "postgres: the root filesystem is read-only" exec_in pg touch /usr/local/bin/x

  if built postgres-exporter; then
    pg_psql admin-Secret.1 postgres -d postgres \
      -c "CREATE ROLE servicedb_monitor LOGIN PASSWORD 'monitor-Secret.3'; GRANT pg_monitor TO servicedb_monitor" >/dev/null
    run pg-exporter postgres-exporter "$net" --args '["--web.listen-address=:9187"]' \
      --env 'DATA_SOURCE_URI=localhost:5432/postgres?sslmode=disable' \
      --env DATA_SOURCE_USER=servicedb_monitor --env DATA_SOURCE_PASS=monitor-Secret.3
    wait_for "postgres-exporter: /metrics has pg_up 1 (the operator's args and env)" 30 metrics_up "$net" 9187 pg_up \
      || show_log pg-exporter
    halt pg-exporter
  fi
  if built client; then
    run pg-client client "$net"
    check "client: nc -z reaches postgres" exec_in pg-client nc -z -w 3 127.0.0.1 5432
    check_output "client: psql logs in as the app" '^orders$' exec_in pg-client --env PGPASSWORD=app-Secret.2 \
      psql -h 127.0.0.1 -U orders -d orders -tAc 'SELECT current_user'
    halt pg-client
  fi

  check_backup postgres "$net" 5432 orders postgres admin-Secret.1
  halt pg INT
  check "postgres: stops on SIGINT (the image's stop signal)" log_has pg 'database system is shut down'
  : >"$ST_DIR/logs/pg"
  start_postgres "$net" "$data" "$init" '["postgres", "-c", "max_connections=42"]' || return 0
  check "postgres: a restart does not initialise again" log_has pg 'Skipping initialization'
  check_fails "postgres: ... nor run the init files" log_has pg 'docker-entrypoint-initdb.d'
  check_output "postgres: takes args (postgres -c max_connections=42)" '^42$' \
    pg_psql admin-Secret.1 postgres -d postgres -c 'SHOW max_connections'
  check_output "postgres: the data survived" '^1$' pg_psql app-Secret.2 orders -d orders -c 'SELECT 1'
  halt pg INT
  : >"$ST_DIR/logs/pg"
  start_postgres "$net" "$data" "$init" '["-c", "max_connections=43"]' || return 0
  check_output "postgres: takes options alone (-c max_connections=43)" '^43$' \
    pg_psql admin-Secret.1 postgres -d postgres -c 'SHOW max_connections'
  halt pg INT
}

my_sql() { # password user sql...: the mariadb client over TCP inside the mariadb container
  exec_in maria --env "MYSQL_PWD=$1" mariadb --protocol=tcp -h 127.0.0.1 -u "$2" --batch --skip-column-names "${@:3}"
}

start_mariadb() { # netns data init
  run maria mariadb "$1" \
    --mount "$(emptydir /tmp)" --mount "$(emptydir /run/mysqld)" \
    --mount "bind:$2:/var/lib/mysql" --mount "bind:$3:/docker-entrypoint-initdb.d:ro" \
    --env MARIADB_DATABASE=orders --env MARIADB_USER=orders \
    --env "MARIADB_ROOT_PASSWORD_HASH=$(native_hash root-Secret.1)" \
    --env "MARIADB_PASSWORD_HASH=$(native_hash app-Secret.2)" \
    --env MARIADB_ROOT_HOST=%
  # The operator's probe is a TCP check of 3306.
  wait_for "mariadb: port 3306 open (the operator's probe)" 120 tcp_open "$1" 3306 || { show_log maria; return 1; }
}

test_mariadb() {
  local net data init
  pod mariadb; net=$NET; data=$(volume maria-data); init=$ST_DIR/maria-init
  mkdir -p "$init"
  printf 'CREATE TABLE orders.selftest_init (i int);\nINSERT INTO orders.selftest_init VALUES (1);\n' >"$init/10-init.sql"
  chmod 0444 "$init/10-init.sql"

  start_mariadb "$net" "$data" "$init" || return 0
  check_output "mariadb: root@% logs in with the password of MARIADB_ROOT_PASSWORD_HASH" '^root@%$' \
    my_sql root-Secret.1 root -e 'SELECT CURRENT_USER()'
  check_output "mariadb: root@localhost has the hash too (socket)" '^1$' \
    exec_in maria --env MYSQL_PWD=root-Secret.1 mariadb -uroot --skip-column-names -e 'SELECT 1'
  check_output "mariadb: the app user (MARIADB_PASSWORD_HASH) uses its database" '^1$' \
    my_sql app-Secret.2 orders orders -e 'CREATE TABLE t (i int); INSERT INTO t VALUES (1); SELECT i FROM t'
  check_fails "mariadb: a wrong password is refused" my_sql wrong orders -e 'SELECT 1'
  check_fails "mariadb: the app user has no other database" my_sql app-Secret.2 orders -e 'CREATE DATABASE other'
  check_output "mariadb: the init .sql file ran" '^1$' my_sql root-Secret.1 root -e 'SELECT i FROM orders.selftest_init'
  check_output "mariadb: skip-name-resolve, bind 0.0.0.0" '^1[[:space:]]+0\.0\.0\.0$' \
    my_sql root-Secret.1 root -e 'SELECT @@skip_name_resolve, @@bind_address'
  check "mariadb: healthcheck.sh --connect --innodb_initialized" \
    exec_in maria healthcheck.sh --connect --innodb_initialized
  check_fails "mariadb: the root filesystem is read-only" exec_in maria touch /usr/local/bin/x

  if built mysqld-exporter; then
    my_sql root-Secret.1 root -e "CREATE USER servicedb_monitor@'%' IDENTIFIED BY 'monitor-Secret.3';
      GRANT PROCESS, REPLICATION CLIENT ON *.* TO servicedb_monitor@'%';
      GRANT SELECT ON performance_schema.* TO servicedb_monitor@'%'" >/dev/null
    run maria-exporter mysqld-exporter "$net" \
      --args '["--web.listen-address=:9104", "--mysqld.address=127.0.0.1:3306", "--mysqld.username=servicedb_monitor"]' \
      --env MYSQLD_EXPORTER_PASSWORD=monitor-Secret.3
    wait_for "mysqld-exporter: /metrics has mysql_up 1 (the operator's args and env)" 30 \
      metrics_up "$net" 9104 mysql_up || show_log maria-exporter
    halt maria-exporter
  fi
  if built client; then
    run maria-client client "$net"
    check "client: nc -z reaches mariadb" exec_in maria-client nc -z -w 3 127.0.0.1 3306
    check_output "client: mariadb logs in as the app" '^orders$' exec_in maria-client --env MYSQL_PWD=app-Secret.2 \
      mariadb -h 127.0.0.1 -u orders --skip-column-names -e 'SELECT DATABASE()' orders
    halt maria-client
  fi

  check_backup mariadb "$net" 3306 orders root root-Secret.1
  halt maria TERM
  : >"$ST_DIR/logs/maria"
  start_mariadb "$net" "$data" "$init" || return 0
  check_fails "mariadb: a restart does not initialise again" log_has maria 'init process|Initializing database'
  check_output "mariadb: the data survived" '^1$' my_sql app-Secret.2 orders orders -e 'SELECT i FROM t'
  halt maria TERM
}

redis_cli() { # user password command...: redis-cli inside the redis container
  exec_in redis --env "REDISCLI_AUTH=$2" redis-cli --no-auth-warning --user "$1" "${@:3}"
}

test_redis() {
  local net data acl
  pod redis; net=$NET; data=$(volume redis-data); acl=$ST_DIR/redis-acl
  # The admin Secret's users.acl (src/engine/redis.rs), mode 0440, group 999.
  mkdir -p "$acl"
  printf 'user default off\nuser admin on #%s ~* &* +@all\nuser orders on #%s ~* &* +@all -@dangerous\n' \
    "$(sha256_hex admin-Secret.1)" "$(sha256_hex app-Secret.2)" >"$acl/users.acl"
  chgrp 999 "$acl/users.acl"; chmod 0440 "$acl/users.acl"
  run redis redis "$net" \
    --args '["redis-server", "--aclfile", "/etc/servicedb/users.acl", "--dir", "/data", "--appendonly", "yes", "--protected-mode", "no"]' \
    --mount "$(emptydir /tmp)" --mount "bind:$data:/data" --mount "bind:$acl:/etc/servicedb:ro"
  wait_for "redis: port 6379 open (the operator's probe)" 30 tcp_open "$net" 6379 || { show_log redis; return 0; }
  check_output "redis: the app user of the ACL file works" '^OK$' redis_cli orders app-Secret.2 SET k v
  check_output "redis: ... and reads back" '^v$' redis_cli orders app-Secret.2 GET k
  check_says "redis: the app user has no dangerous command" 'NOPERM' redis_cli orders app-Secret.2 FLUSHALL
  check_says "redis: the default user is off" 'NOAUTH' exec_in redis redis-cli PING
  check_says "redis: a wrong password is refused" 'WRONGPASS' redis_cli orders wrong PING
  check_output "redis: appendonly on, data in /data" '^/data$' redis_cli admin admin-Secret.1 CONFIG GET dir
  check "redis: writes its AOF to the volume" test -d "$data/appendonlydir"

  if built redis-exporter; then
    redis_cli admin admin-Secret.1 ACL SETUSER servicedb_monitor reset on "#$(sha256_hex monitor-Secret.3)" \
      -@all +ping +info '+config|get' '+client|list' '+slowlog|get' '+latency|latest' >/dev/null
    run redis-exporter redis-exporter "$net" \
      --env REDIS_ADDR=redis://localhost:6379 --env REDIS_USER=servicedb_monitor \
      --env REDIS_PASSWORD=monitor-Secret.3 --env REDIS_EXPORTER_WEB_LISTEN_ADDRESS=:9121
    wait_for "redis-exporter: /metrics has redis_up 1 (the operator's env, monitor ACL)" 30 \
      metrics_up "$net" 9121 redis_up || show_log redis-exporter
    halt redis-exporter
  fi
  if built client; then
    run redis-client client "$net"
    check_output "client: redis-cli logs in as the app" '^PONG$' \
      exec_in redis-client --env REDISCLI_AUTH=app-Secret.2 redis-cli --no-auth-warning --user orders PING
    halt redis-client
  fi
  check_backup redis "$net" 6379 0 admin admin-Secret.1
  halt redis TERM
}

test_client() {
  local net; pod client; net=$NET
  run client client "$net"
  run listener client "$net" --args '["nc", "-lk", "127.0.0.1", "7777"]'
  wait_for "client: nc -lk listens" 10 tcp_open "$net" 7777
  check "client: nc -z" exec_in client nc -z -w 3 127.0.0.1 7777
  check_output "client: psql 15, pg_isready, mariadb, redis-cli, curl, host, dig" 'DiG' exec_in client sh -c \
    'psql --version && pg_isready --version && mariadb --version && redis-cli --version && curl --version && command -v host && dig -v'
  check_output "client: runs as 65532" '^65532$' exec_in client id -u
  check "client: the default command exits on SIGTERM" stop client TERM
  stop listener KILL || true
}

test_prometheus() {
  local net; pod prometheus; net=$NET
  run prometheus prometheus "$net" --mount "$(emptydir /prometheus)"
  wait_for "prometheus: /-/ready" 60 in_pod "$net" curl -fsS --max-time 3 http://127.0.0.1:9090/-/ready \
    || { show_log prometheus; return 0; }
  check_output "prometheus: serves its own metrics" '^prometheus_build_info' \
    in_pod "$net" curl -fsS --max-time 5 http://127.0.0.1:9090/metrics
  check "prometheus: promtool is there" exec_in prometheus promtool --version
  halt prometheus
}

test_servicedb() {
  local net; pod servicedb; net=$NET
  check_output "servicedb: /servicedb version as 65532, read-only root" '[0-9]+\.[0-9]+' \
    run_once servicedb servicedb "$net" --args '["version"]'
  check_output "servicedb: /servicedb crd" 'CustomResourceDefinition' run_once servicedb-crd servicedb "$net" --args '["crd"]'
}

test_servicedb_tools() {
  local net; pod tools; net=$NET
  check_output "servicedb-tools: servicedb version" '[0-9]+\.[0-9]+' run_once tools servicedb-tools "$net" --args '["version"]'
  check_output "servicedb-tools: pg_dump 15, mariadb-dump, redis-cli on PATH" 'redis-cli' \
    run_once tools-dump servicedb-tools "$net" --command '["sh", "-c"]' \
    --args '["pg_dump --version && pg_restore --version && mariadb-dump --version && mariadb --version && redis-cli --version"]'
}

test_coredns() {
  local net conf; pod coredns; net=$NET; conf=$ST_DIR/coredns
  mkdir -p "$conf"
  printf '.:1053 {\n    errors\n    health :8080\n}\n' >"$conf/Corefile"
  check_output "coredns: /coredns -version" 'CoreDNS-1\.14\.7' run_once coredns-version coredns "$net" --args '["-version"]'
  run coredns coredns "$net" --args '["-conf", "/etc/coredns/Corefile"]' --mount "bind:$conf:/etc/coredns:ro"
  wait_for "coredns: /health as 65532, read-only root" 20 in_pod "$net" curl -fsS --max-time 3 http://127.0.0.1:8080/health \
    || show_log coredns
  halt coredns
}

# --- entry point ------------------------------------------------------------------

selftest() { # image ids or names...
  [ "$(id -u)" = 0 ] || die "the selftest needs root (runc, network namespaces)"
  need_packages runc curl iproute2
  local wanted=() groups=() id g
  if [ $# = 0 ]; then wanted=("${ALL[@]}"); else for id; do wanted+=("$(resolve "$id")"); done; fi
  for id in "${wanted[@]}"; do
    case "$id" in
      postgres-exporter) g=postgres ;; mysqld-exporter) g=mariadb ;; redis-exporter) g=redis ;;
      *) g=$id ;;
    esac
    if ! built "$g" || ! built "$id"; then
      st_say "SKIP $id: not built (e2e/images.sh build $(printf '%s\n' "$g" "$id" | sort -u | xargs))"
      [ $# = 0 ] || ST_FAILED=$((ST_FAILED + 1))
      continue
    fi
    [[ " ${groups[*]} " == *" $g "* ]] || groups+=("$g")
  done

  rm -rf "$IMAGES/selftest/failed-logs"
  ST_DIR=$IMAGES/selftest/run-$$
  trap 'st_cleanup; on_exit' EXIT
  mkdir -p "$ST_DIR/runc" "$ST_DIR/logs" "$ST_DIR/template" "$ST_DIR/emptydirs"
  runc spec --bundle "$ST_DIR/template"
  local t0=$SECONDS
  for g in "${groups[@]}"; do
    st_say "--- $g"
    "test_${g//-/_}"
  done
  if [ "$ST_FAILED" != 0 ]; then # the containers' output, for a look afterwards
    rm -rf "$IMAGES/selftest/failed-logs"; cp -r "$ST_DIR/logs" "$IMAGES/selftest/failed-logs"
    st_say "the containers' logs are in $IMAGES/selftest/failed-logs"
  fi
  st_cleanup
  st_say "done in $((SECONDS - t0)) s"
  echo "selftest: $ST_PASSED passed, $ST_FAILED failed"
  [ "$ST_FAILED" = 0 ]
}
