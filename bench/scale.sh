#!/usr/bin/env bash
# Scale benchmark (make bench-scale): the operator at N ServiceDatabases on
# the local control plane with kwok nodes (pods are played, never run), one
# fresh cluster per N. For each N, bench-scale (bench/scale/src) prints
# progress and a table: time until all are Ready against a bare kube-rs
# client writing the same children, API requests per object per idle resync
# (audit log), the operator's RSS, reconcile latency (its /metrics) and a
# restart. Figures, not pass/fail. Everything listens on loopback or the
# machine-local bridge address the API server uses; the cluster is stopped
# at the end, and leftovers are checked.
#
#   make bench-scale                 N=100 and N=1000
#   make bench-scale N=10000         one N (or a list: N="100 1000 10000")
#   RESYNC=30 CONCURRENCY=0 ...      operator resync, instances created at once (0: all)
#   RECONCILES=32 ...                the operator's concurrent reconciles, and the
#                                    bare client's instances in flight (the same)
#   TIMEOUT=2400 ...                 bound of each wait in seconds (0: 120 + 0.6 per instance)
#   OPERATOR=path BARE=0 ...         run this operator binary instead (e.g. a wrapper that
#                                    profiles it; keep its PID), skip the bare client
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[bench-scale %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

SIZES=${N:-100 1000}
RESYNC=${RESYNC:-30}
CONCURRENCY=${CONCURRENCY:-0}
RECONCILES=${RECONCILES:-32}
TIMEOUT=${TIMEOUT:-0}
OPERATOR=${OPERATOR:-target/release/servicedb}
BARE=${BARE:-1}
# See CONTROL_PLANE_QPS in e2e/cluster.sh.
export CONTROL_PLANE_QPS=${CONTROL_PLANE_QPS:-200}
OUT=${OUT:-target/bench-scale}
mkdir -p "$OUT"
t0=$SECONDS

command -v redis-server >/dev/null || e2e/deps.sh
say "building the operator and bench-scale (release)"
cargo build --release --quiet --bin servicedb -p servicedb
cargo build --release --quiet -p servicedb-bench-scale

finish() {
  local rc=$?
  e2e/cluster.sh down >/dev/null 2>&1 || true
  e2e/node.sh leftovers || rc=1
  exit $rc
}
trap finish EXIT

# kwok nodes with room for the bench's pods (the cluster's two take 110 each).
kwok_nodes() { # count
  for i in $(seq 0 $(($1 - 1))); do
    cat <<NODE
---
apiVersion: v1
kind: Node
metadata:
  name: bench-kwok-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: bench-kwok-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
spec:
  taints: [{key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule}]
status:
  allocatable: {cpu: "4000", memory: 8000Gi, pods: "1100", ephemeral-storage: 50Ti}
  capacity: {cpu: "4000", memory: 8000Gi, pods: "1100", ephemeral-storage: 50Ti}
  nodeInfo: {kubeletVersion: fake, architecture: amd64, operatingSystem: linux}
NODE
  done
}

for n in $SIZES; do
  tn=$SECONDS
  say "N=$n: a fresh control plane (kwok nodes only, no real node)"
  e2e/cluster.sh down >/dev/null 2>&1 || true
  SERVICEDB_NODE=none KWOK_NODES=1 e2e/cluster.sh up
  eval "$(e2e/cluster.sh env)"
  kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
  kubectl wait --for=condition=Established crd/servicedatabases.servicedb.dev --timeout=60s >/dev/null
  # The chart's RBAC and ServiceAccount; the operator itself runs as a local process.
  helm upgrade --install servicedb charts/servicedb --namespace servicedb-system --create-namespace \
    --skip-crds --wait=false --set replicas=0 >/dev/null
  kwok_nodes $(((2 * n + 999) / 1000 + 1)) | kubectl apply -f - >/dev/null
  work=$(mktemp -d /tmp/sdb-bench-scale.XXXXXX)
  token=$(kubectl -n servicedb-system create token servicedb --duration=6h)
  server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  cat >"$work/operator.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: bench, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: servicedb, user: {token: "$token"}}]
contexts: [{name: servicedb, context: {cluster: bench, user: servicedb}}]
current-context: servicedb
KC
  extra=()
  [ "$n" -lt 10000 ] && [ "$BARE" = 1 ] || extra=(--skip-bare)
  say "N=$n: running bench-scale (operator log: $work/operator.log)"
  target/release/bench-scale --n "$n" --resync-seconds "$RESYNC" --concurrency "$CONCURRENCY" --reconciles "$RECONCILES" --timeout-seconds "$TIMEOUT" \
    --operator-binary "$OPERATOR" --operator-kubeconfig "$work/operator.kubeconfig" \
    --audit-log "$SERVICEDB_E2E_LOGS/audit.log" --work-dir "$work" ${extra[@]+"${extra[@]}"} | tee "$OUT/n$n.md"
  cp "$work/operator.log" "$OUT/n$n-operator.log" 2>/dev/null || true
  e2e/cluster.sh down
  rm -rf "$work"
  say "N=$n took $((SECONDS - tn)) s (cluster up and down included)"
  echo "N=$n took $((SECONDS - tn)) s (cluster up and down included)" >>"$OUT/n$n.md"
done
say "figures in $OUT/; total $((SECONDS - t0)) s"
