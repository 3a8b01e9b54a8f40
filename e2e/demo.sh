#!/usr/bin/env bash
# `make demo`: the local control plane, the CRDs and the chart, the operator
# as a local process, and the sample ServiceDatabase; then its status and its
# connection Secret. The cluster and the operator keep running: stop both
# with `make demo-down`.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n[demo] %s\n' "$*" >&2; }
e2e/deps.sh
say "building the Kubernetes control plane and tools (cached after the first time)"
e2e/tools.sh kubernetes etcd kwok helm
say "starting the local control plane"
e2e/cluster.sh up
eval "$(e2e/cluster.sh env)"
say "building the operator"
cargo build --quiet
say "installing the CRDs (kubectl) and the chart (helm)"
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established crd/servicedatabases.servicedb.dev --timeout=60s >/dev/null
# The chart's Deployment stays at 0 replicas: here the operator runs as a
# local process under the chart's ServiceAccount instead of a container.
helm upgrade --install servicedb charts/servicedb -n servicedb-system --create-namespace --set replicas=0 >/dev/null
token=$(kubectl -n servicedb-system create token servicedb --duration=12h)
cp "$KUBECONFIG" target/demo-operator.kubeconfig
kubectl --kubeconfig target/demo-operator.kubeconfig config set-credentials servicedb --token="$token" >/dev/null
kubectl --kubeconfig target/demo-operator.kubeconfig config set-context --current --user=servicedb >/dev/null
# Pods never run on this control plane: stand-in database servers play the
# containers, and the operator reaches them through an endpoint-override file.
if [ -f target/demo-standins.pid ] && kill -0 "$(cat target/demo-standins.pid)" 2>/dev/null; then
  say "the stand-in database servers already run"
else
  cargo build --quiet -p servicedb-e2e
  nohup target/debug/servicedb-e2e --stand-ins /tmp/sdb-demo >target/demo-standins.log 2>&1 &
  echo $! >target/demo-standins.pid
  say "stand-in database servers started (pid $!, log target/demo-standins.log)"
fi
if [ -f target/demo-operator.pid ] && kill -0 "$(cat target/demo-operator.pid)" 2>/dev/null; then
  say "the operator already runs (pid $(cat target/demo-operator.pid))"
else
  KUBECONFIG=target/demo-operator.kubeconfig nohup target/debug/servicedb run --http-address 127.0.0.1:8080 \
    --endpoint-overrides /tmp/sdb-demo/endpoints.json \
    >target/demo-operator.log 2>&1 &
  echo $! >target/demo-operator.pid
  say "operator started (pid $!, log target/demo-operator.log)"
fi
say "applying examples/orders.yaml"
kubectl create namespace shop --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl label namespace shop pod-security.kubernetes.io/enforce=restricted --overwrite >/dev/null
kubectl apply -f examples/orders.yaml
kubectl -n shop wait --for=condition=Ready sdb/orders --timeout=120s
say "status"
kubectl -n shop get sdb orders
kubectl -n shop get sdb orders -o jsonpath='{.status}' | python3 -m json.tool
say "what it made"
kubectl -n shop get statefulset,service,secret,networkpolicy,role,rolebinding,configmap,pvc -l app.kubernetes.io/instance=orders
say "the connection Secret orders-db-credentials (decoded; only the orders ServiceAccount may read it)"
kubectl -n shop get secret orders-db-credentials -o go-template='{{range $k, $v := .data}}{{printf "  %-9s %s\n" $k ($v | base64decode)}}{{end}}'
say "connecting as the service, with that Secret, to the stand-in database the operator administered"
user=$(kubectl -n shop get secret orders-db-credentials -o jsonpath='{.data.username}' | base64 -d)
pass=$(kubectl -n shop get secret orders-db-credentials -o jsonpath='{.data.password}' | base64 -d)
addr=$(python3 -c 'import json;print(json.load(open("/tmp/sdb-demo/endpoints.json"))["shop/orders-db"])')
psql --no-psqlrc -tA "postgresql://$user:$pass@$addr/orders" \
  -c "SELECT 'connected as ' || current_user || ' to ' || current_database() || ', superuser: ' || (SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user)"
say "done. Try: eval \"\$(e2e/cluster.sh env)\"; kubectl -n shop get sdb. Stop everything with: make demo-down"
