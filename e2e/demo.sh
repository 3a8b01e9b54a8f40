#!/usr/bin/env bash
# `make demo`: the local control plane and its real node, the operator
# installed with helm and running in a pod, the sample ServiceDatabase as a
# real PostgreSQL pod; then a pod of the `orders` service connects with the
# Secret and a pod of another service is refused. Everything keeps running:
# stop it all with `make demo-down`.
#
# The first run on a machine builds the Kubernetes components, the node and
# the images (about 40 minutes on 2 cores); later runs take about 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n[demo %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
ns=shop

say "installing missing Debian packages (first time ~2 min, then nothing)"
e2e/deps.sh
say "building the Kubernetes control plane, the node and helm from the Go module proxy (first time 25-40 min on 2 cores; cached after)"
e2e/tools.sh kubernetes etcd helm node
say "building the operator: cargo build --release (first time ~12 min on 2 cores, then seconds)"
cargo build --release --quiet -p servicedb
say "building the images: pause, CoreDNS, PostgreSQL 15 and its exporter, the operator, a client (first time ~2 min; cached by content)"
e2e/images.sh build pause coredns postgres postgres-exporter servicedb servicedb-tools client
say "starting the control plane and the real node (~20 s), then importing the images into containerd (~40 s)"
# One real node; no kwok nodes (they serve the suite's scale scenarios).
KWOK_NODES=0 e2e/cluster.sh up
eval "$(e2e/cluster.sh env)"
e2e/node.sh import $(e2e/images.sh path postgres postgres-exporter servicedb servicedb-tools client)

say "installing the CRDs (kubectl) and the operator (helm, in a restricted namespace); waiting for its two pods to be ready (~20 s)"
kubectl apply --warnings-as-errors --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established crd/servicedatabases.servicedb.dev --timeout=60s >/dev/null
for n in servicedb-system "$ns"; do
  kubectl create namespace "$n" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl label namespace "$n" pod-security.kubernetes.io/enforce=restricted --overwrite >/dev/null
done
helm upgrade --install servicedb charts/servicedb -n servicedb-system --skip-crds \
  -f e2e/local-images.yaml --set networkPolicy.apiServerPorts='{443,6443,16443}' >/dev/null
kubectl -n servicedb-system rollout status deployment/servicedb --timeout=120s

say "applying examples/orders.yaml (version 15: the PostgreSQL image built here); waiting for Ready: pod start, initdb, logins (~30 s, at most 5 min)"
kubectl -n "$ns" create serviceaccount orders --dry-run=client -o yaml | kubectl apply -f - >/dev/null
sed 's/version: "16"/version: "15"/' examples/orders.yaml | kubectl apply -f -
kubectl -n "$ns" wait --for=condition=Ready sdb/orders --timeout=300s
say "status, as the kubectl plugin shows it (kubectl servicedb status orders; make plugin installs it)"
PATH="$PWD/target/release:$PATH" kubectl servicedb -n "$ns" status orders
kubectl -n "$ns" get pods -o wide
say "what it made"
kubectl -n "$ns" get statefulset,service,secret,networkpolicy,role,rolebinding,configmap,pvc -l app.kubernetes.io/instance=orders

client_pod() { # name app-label
  kubectl apply -f - >/dev/null <<POD
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $ns, labels: {app.kubernetes.io/name: $2}}
spec:
  serviceAccountName: default
  terminationGracePeriodSeconds: 1
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: client
    image: localhost/servicedb/client:bookworm
    imagePullPolicy: Never
    command: [sleep, infinity]
    env:
    - {name: DB_URI, valueFrom: {secretKeyRef: {name: orders-db-credentials, key: uri}}}
    # The uri says sslmode=verify-full: libpq checks the server with ca.crt.
    - {name: PGSSLROOTCERT, value: /etc/db/ca.crt}
    volumeMounts: [{name: credentials, mountPath: /etc/db, readOnly: true}]
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
  volumes: [{name: credentials, secret: {secretName: orders-db-credentials}}]
POD
  kubectl -n "$ns" wait --for=condition=Ready "pod/$1" --timeout=90s >/dev/null
}
client_pod orders-app orders
client_pod billing-app billing

say "a pod of the orders service connects with the Secret over TLS, verifying the server with its ca.crt (psql \"\$DB_URI\")"
for i in $(seq 1 20); do
  if out=$(kubectl -n "$ns" exec orders-app -- sh -c 'psql "$DB_URI" -tAc "select '"'"'connected as '"'"' || current_user || '"'"' to '"'"' || current_database() || '"'"', superuser: '"'"' || (select rolsuper::text from pg_roles where rolname = current_user)"' 2>&1); then
    echo "  orders-app: $out"; break
  fi
  [ "$i" = 20 ] && { echo "  orders-app could not connect: $out"; exit 1; }
  sleep 1
done
say "a pod of the billing service, holding the same Secret, is refused by the NetworkPolicy"
if out=$(kubectl -n "$ns" exec billing-app -- sh -c 'PGCONNECT_TIMEOUT=3 psql "$DB_URI" -tAc "select 1"' 2>&1); then
  echo "  billing-app CONNECTED ($out): the NetworkPolicy did not hold"; exit 1
fi
echo "  billing-app: refused: $(echo "$out" | grep -m1 'failed:' | sed 's/^.*failed: //')"
say "done. Try: eval \"\$(e2e/cluster.sh env)\"; export PATH=\$PWD/target/release:\$PATH; kubectl servicedb -n $ns status orders; kubectl servicedb -n $ns connect orders. Stop everything with: make demo-down"
