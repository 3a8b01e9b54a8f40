# shellcheck shell=bash disable=SC2034 # a recipe: variables read by e2e/images.sh
# PostgreSQL 15 from Debian, a test double of docker.io/library/postgres:15
# (Debian-based): postgres renumbered to 999:999 as the official image does,
# PGDATA /var/lib/postgresql/data, the binaries first on PATH, listening on
# every address, stop signal SIGINT, and docker-entrypoint.sh (this folder)
# with the official image's environment contract.
IMAGE=localhost/servicedb/postgres:15
PG_MAJOR=15
PACKAGES="postgresql-$PG_MAJOR"
USER_ID=999:999
ENTRYPOINT='["docker-entrypoint.sh"]'
CMD='["postgres"]'
STOP_SIGNAL=SIGINT
PORTS=5432/tcp
ENV=(
  "PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  "PG_MAJOR=$PG_MAJOR"
  PGDATA=/var/lib/postgresql/data
  LANG=C.UTF-8
)
ESTIMATE="packages ~30 s"

before_packages() {
  add_user postgres 999 /var/lib/postgresql /bin/bash
  # No cluster at install time: the entrypoint initialises PGDATA at first start.
  mkdir -p "$ROOT/etc/postgresql-common/createcluster.d"
  echo 'create_main_cluster = false' >"$ROOT/etc/postgresql-common/createcluster.d/servicedb.conf"
}

after_packages() {
  local sample=$ROOT/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample
  grep -q "^#listen_addresses" "$sample"
  sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$sample"
  # JIT is optional and LLVM (with its Z3) is half the image: without
  # llvmjit.so the server simply does not compile queries.
  rm -f "$ROOT/usr/lib/postgresql/$PG_MAJOR/lib/llvmjit"*
  rm -rf "$ROOT/usr/lib/postgresql/$PG_MAJOR/lib/bitcode"
  # shellcheck disable=SC2046,SC2016
  in_root dpkg --purge --force-depends $(in_root dpkg-query -W -f='${Package}\n' 'libllvm*' 'libz3-*') >>"$LOG" 2>&1
  # /var/run is an absolute link to /run: never follow it from the host.
  install -d -o 999 -g 999 -m 3777 "$ROOT/run/postgresql"
  install -d -o 999 -g 999 -m 1777 "$ROOT/var/lib/postgresql/data"
  install -d -m 0755 "$ROOT/docker-entrypoint-initdb.d"
  put docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
}
