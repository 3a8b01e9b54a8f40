#!/usr/bin/env bash
# `make e2e`: a fresh local control plane with its real node, the images
# imported into it, the suite (real pods first, then stand-ins and kwok),
# and everything stopped again, checking that nothing is left behind
# (KEEP_CLUSTER=1 leaves it running for a look around).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
e2e/tools.sh all

# The images that need no binary of ours build while cargo compiles.
base_images="pause coredns postgres mariadb redis postgres-exporter mysqld-exporter redis-exporter client prometheus"
say "building images in the background (log target/e2e-images.log), and the operator"
mkdir -p target
e2e/images.sh build $base_images >target/e2e-images.log 2>&1 &
images_pid=$!
cargo build --workspace --quiet
cargo build --release --quiet -p servicedb
wait "$images_pid" || { tail -n 30 target/e2e-images.log >&2; say "building images failed (log above)"; exit 1; }
e2e/images.sh build servicedb servicedb-tools

e2e/cluster.sh down >/dev/null 2>&1 || true
e2e/cluster.sh up
finish() {
  local rc=$?
  e2e/cluster.sh down
  e2e/node.sh leftovers || rc=1
  exit $rc
}
[ "${KEEP_CLUSTER:-0}" = 1 ] || trap finish EXIT
eval "$(e2e/cluster.sh env)"
[ "${SERVICEDB_NODE:-real}" = none ] || e2e/node.sh import $(e2e/images.sh path $base_images servicedb servicedb-tools)
# In the background and waited for: a SIGTERM to this script then stops the
# suite too (run in the foreground it outlived the script, and went on
# against the next run's cluster).
target/debug/servicedb-e2e "$@" &
suite=$!
trap 'kill -TERM "$suite" 2>/dev/null; wait "$suite"; exit 143' TERM INT
wait "$suite"
