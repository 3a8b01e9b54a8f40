#!/usr/bin/env bash
# Backup benchmark (make bench): throughput of `servicedb backup` against
# the bare `pg_dump | zstd > file` pipeline on the same data in one run, and
# the peak RSS of `servicedb backup` at two database sizes, to a directory
# and to S3 (versitygw on loopback). Prints a table; nothing is asserted on
# time here, the figures are for people.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

SMALL_ROWS=${SMALL_ROWS:-400000}    # about 100 MB in PostgreSQL
LARGE_ROWS=${LARGE_ROWS:-1600000}   # about 400 MB
RUNS=${RUNS:-3}

e2e/deps.sh
e2e/tools.sh versitygw
say "building the release binary"
cargo build --release --quiet
BIN=$PWD/target/release/servicedb
VGW=${SERVICEDB_CACHE:-$HOME/.cache/servicedb-e2e}/bin/versitygw

WORK=$(mktemp -d /tmp/servicedb-bench.XXXXXX)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PORT=$((20000 + RANDOM % 10000))
S3PORT=$((PORT + 1))
AS=()
[ "$(id -u)" = 0 ] && AS=(runuser -u postgres --) && chown postgres "$WORK"
cleanup() {
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  [ -n "${VGW_PID:-}" ] && kill "$VGW_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

say "starting PostgreSQL on 127.0.0.1:$PORT and versitygw on 127.0.0.1:$S3PORT"
"${AS[@]}" "$PGBIN/initdb" -D "$WORK/pg" -U postgres --auth=trust >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
  -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK" start >/dev/null
mkdir -p "$WORK/s3/bench"
"$VGW" --access bench --secret bench-secret --port "127.0.0.1:$S3PORT" posix "$WORK/s3" >/dev/null 2>&1 &
VGW_PID=$!

psql() { "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
export PGPASSWORD=unused SERVICEDB_DB_PASSWORD=unused AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret

load() { # database rows: mixed columns, as compressible as typical application data
  psql -d postgres -c "CREATE DATABASE $1"
  psql -d "$1" -c "CREATE TABLE orders(id bigint PRIMARY KEY, customer text, note text, amount numeric(12,2),
      created timestamptz, digest bytea);
    INSERT INTO orders SELECT i, 'customer-' || (i % 5000), md5(i::text) || ' ' || md5((i * 31)::text),
      (i % 100000) / 100.0, timestamptz '2026-01-01' + i * interval '1 second', decode(md5((i * 7)::text), 'hex')
    FROM generate_series(1, $2) i;"
  psql -d postgres -c "SELECT pg_size_pretty(pg_database_size('$1'))"
}

# seconds and peak KiB of one command (GNU time), its output discarded
measure() {
  /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >/dev/null 2>"$WORK/stderr" || { cat "$WORK/stderr" >&2; exit 1; }
  cat "$WORK/time"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run_case() { # database
  local db=$1 dump="pg_dump -h 127.0.0.1 -p $PORT -U postgres -d $1" t
  local conn=(--engine postgres --host 127.0.0.1 --port "$PORT" --username postgres --database "$db" --keep-last 1)
  local base_z0 base_fc ours_dir ours_s3 rss_dir rss_s3
  base_z0=$(for _ in $(seq "$RUNS"); do measure bash -c "$PGBIN/$dump -Fc -Z0 | zstd -q -3 > $WORK/base.zst"; done | awk '{print $1}' | median)
  base_fc=$(for _ in $(seq "$RUNS"); do measure bash -c "$PGBIN/$dump -Fc | zstd -q -3 > $WORK/base.zst"; done | awk '{print $1}' | median)
  t=$(for _ in $(seq "$RUNS"); do measure "$BIN" backup "${conn[@]}" --dir "$WORK/dir"; done)
  ours_dir=$(awk '{print $1}' <<<"$t" | median); rss_dir=$(awk '{print $2}' <<<"$t" | sort -n | tail -1)
  t=$(for _ in $(seq "$RUNS"); do measure "$BIN" backup "${conn[@]}" --s3-bucket bench --s3-prefix "$db" \
        --s3-endpoint "http://127.0.0.1:$S3PORT" --s3-tls=false; done)
  ours_s3=$(awk '{print $1}' <<<"$t" | median); rss_s3=$(awk '{print $2}' <<<"$t" | sort -n | tail -1)
  local dumped
  dumped=$(cat "$WORK"/dir/*/manifest.json | sed -n 's/.*"dumpBytes": \([0-9]*\).*/\1/p' | tail -1)
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
  printf '%-7s dump %6d MiB | pg_dump -Fc -Z0 | zstd: %6.2fs | pg_dump -Fc | zstd: %6.2fs | servicedb backup to dir: %6.2fs (ratio %s, vs -Fc: %s, peak RSS %d MiB) | to S3: %6.2fs (ratio %s, peak RSS %d MiB)\n' \
    "$db" $((dumped >> 20)) "$base_z0" "$base_fc" "$ours_dir" "$(ratio "$base_z0" "$ours_dir")" "$(ratio "$base_fc" "$ours_dir")" \
    $((rss_dir / 1024)) "$ours_s3" "$(ratio "$base_z0" "$ours_s3")" $((rss_s3 / 1024))
}

say "loading $SMALL_ROWS rows into 'small'"; load small "$SMALL_ROWS"
say "loading $LARGE_ROWS rows into 'large'"; load large "$LARGE_ROWS"
say "measuring, median of $RUNS runs each; ratio = bare pipeline time / servicedb time (same pg_dump flags)"
{
  run_case small
  run_case large
} | tee "$WORK/result"
cp "$WORK/result" target/bench-backup.txt
say "written to target/bench-backup.txt"
