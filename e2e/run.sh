#!/usr/bin/env bash
# `make e2e`: a fresh local control plane, the suite, and the control plane
# stopped again (KEEP_CLUSTER=1 leaves it running for a look around).
set -euo pipefail
cd "$(dirname "$0")/.."
e2e/tools.sh kubernetes etcd kwok helm netpolicy prometheus-operator-crds
e2e/cluster.sh down >/dev/null 2>&1 || true
e2e/cluster.sh up
[ "${KEEP_CLUSTER:-0}" = 1 ] || trap 'e2e/cluster.sh down' EXIT
eval "$(e2e/cluster.sh env)"
echo "[e2e] building the operator and the suite" >&2
cargo build --workspace --quiet
target/debug/servicedb-e2e "$@"
