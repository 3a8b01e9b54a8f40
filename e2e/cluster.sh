#!/usr/bin/env bash
# A real Kubernetes control plane without Docker: etcd, kube-apiserver (RBAC,
# PodSecurity admission, audit log), controller-manager, scheduler, a real
# worker node that runs pods (e2e/node.sh), kwok nodes for what needs more
# pods than one machine can run, and a tiny PV provisioner. The API server
# listens on the node's bridge address (pods reach it; nothing listens on the
# machine's outer interface); the rest on 127.0.0.1.
#
# SERVICEDB_NODE=none skips the real node; KWOK_NODES=0 skips kwok. kwok
# nodes are tainted: only namespaces annotated for them (see kwok_namespace
# in e2e/src/harness.rs) place pods there.
#
#   e2e/cluster.sh up       build the tools once (cached), start, wait until ready
#   e2e/cluster.sh down     stop exactly the processes `up` started, wipe etcd
#   e2e/cluster.sh status   what runs, and whether the API server is ready
#   e2e/cluster.sh env      print the exports (eval "$(e2e/cluster.sh env)")
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${SERVICEDB_CACHE:-$HOME/.cache/servicedb-e2e}
BIN=$CACHE/bin
STATE=${SERVICEDB_CLUSTER_DIR:-$CACHE/cluster}
PKI=$STATE/pki
LOGS=$STATE/logs
PIDS=$STATE/pids
KUBECONFIG_FILE=$STATE/admin.kubeconfig
ETCD_PORT=${ETCD_PORT:-12379}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-12380}
API_PORT=${API_PORT:-16443}
KCM_PORT=${KCM_PORT:-20257}
SCHED_PORT=${SCHED_PORT:-20259}
NODES=${KWOK_NODES:-2}
REAL_NODE=${SERVICEDB_NODE:-real}
NODE_IP=${NODE_IP:-10.210.0.1}
export API_PORT NODE_IP
# Client QPS of the controller-manager and scheduler; empty: their defaults
# (20 and 50). bench/scale.sh raises it so that thousands of pods measure
# the operator rather than these clients' throttles.
CONTROL_PLANE_QPS=${CONTROL_PLANE_QPS:-}
QPS_FLAGS=()
[ -z "$CONTROL_PLANE_QPS" ] || QPS_FLAGS=(--kube-api-qps "$CONTROL_PLANE_QPS" --kube-api-burst "$((CONTROL_PLANE_QPS * 2))")
# Components run as children of `up`; give every wait an upper bound.
READY_TIMEOUT=${READY_TIMEOUT:-120}

WHO=cluster LOG_PREFIX=
. "$HERE/lib.sh"
kc() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

certificates() {
  # Certificates from before the API server moved to the bridge address are remade.
  [ -f "$PKI/admin.crt" ] && openssl x509 -in "$PKI/apiserver.crt" -noout -text | grep -q "IP Address:$NODE_IP" && return
  say "creating a CA, serving and client certificates in $PKI"
  mkdir -p "$PKI"; cd "$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=servicedb-e2e-ca" 2>/dev/null
  cat > server.ext <<EXT
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_IP,IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EXT
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > client.ext
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 -extfile server.ext 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/CN=e2e-admin/O=system:masters" 2>/dev/null
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 3650 -extfile client.ext 2>/dev/null
  # The API server's identity towards kubelets (exec, logs, port-forward).
  openssl req -newkey rsa:2048 -nodes -keyout kubelet-client.key -out kubelet-client.csr -subj "/CN=kube-apiserver-kubelet-client" 2>/dev/null
  openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out kubelet-client.crt -days 3650 -extfile client.ext 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  cd - >/dev/null
}

kubeconfig() {
  "$BIN/kubectl" config set-cluster e2e --server="https://$NODE_IP:$API_PORT" \
    --certificate-authority="$PKI/ca.crt" --embed-certs --kubeconfig "$KUBECONFIG_FILE" >/dev/null
  "$BIN/kubectl" config set-credentials e2e-admin --client-certificate="$PKI/admin.crt" \
    --client-key="$PKI/admin.key" --embed-certs --kubeconfig "$KUBECONFIG_FILE" >/dev/null
  "$BIN/kubectl" config set-context e2e --cluster=e2e --user=e2e-admin --kubeconfig "$KUBECONFIG_FILE" >/dev/null
  "$BIN/kubectl" config use-context e2e --kubeconfig "$KUBECONFIG_FILE" >/dev/null
}

audit_policy() {
  # Every request at Metadata level: who did what to which object. The e2e
  # suite counts the operator's write requests from this log.
  cat > "$STATE/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    verbs: [get, list, watch]
    users: [e2e-admin, "system:kube-scheduler", "system:kube-controller-manager"]
  - level: Metadata
POLICY
}

node_manifest() { # index
  cat <<NODE
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$1
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: kwok-node-$1, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
spec:
  taints: [{key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule}]
status:
  allocatable: {cpu: "32", memory: 128Gi, pods: "110", ephemeral-storage: 500Gi}
  capacity: {cpu: "32", memory: 128Gi, pods: "110", ephemeral-storage: 500Gi}
  nodeInfo: {kubeletVersion: fake, architecture: amd64, operatingSystem: linux}
NODE
}

storage_class() {
  kc apply -f - >/dev/null <<'SC'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: e2e.servicedb.dev/local
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
reclaimPolicy: Delete
SC
}

cmd_up() {
  [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/etcd" ] || "$HERE/tools.sh" kubernetes etcd
  [ "$NODES" = 0 ] || [ -x "$BIN/kwok" ] || "$HERE/tools.sh" kwok
  [ "$REAL_NODE" = none ] || "$HERE/tools.sh" node
  command -v openssl >/dev/null || die "openssl is missing: apt-get install openssl"
  mkdir -p "$STATE" "$LOGS" "$PIDS"
  # The bridge first: the API server listens on its address.
  "$HERE/node.sh" net-up
  certificates; audit_policy; kubeconfig
  say "logs: $LOGS"

  start etcd "$BIN/etcd" --name e2e --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "e2e=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" \
    --quota-backend-bytes 4294967296 --unsafe-no-fsync
  wait_for etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$NODE_IP" --secure-port "$API_PORT" --advertise-address "$NODE_IP" \
    --endpoint-reconciler-type lease --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction,PodSecurity,PodNodeSelector,PodTolerationRestriction --allow-privileged=false \
    --kubelet-client-certificate "$PKI/kubelet-client.crt" --kubelet-client-key "$PKI/kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
    --audit-policy-file "$STATE/audit-policy.yaml" --audit-log-path "$LOGS/audit.log" --audit-log-maxsize 200 \
    --profiling=false
  wait_for kube-apiserver kc get --raw /readyz

  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$KUBECONFIG_FILE" \
    --authentication-kubeconfig "$KUBECONFIG_FILE" --authorization-kubeconfig "$KUBECONFIG_FILE" \
    --leader-elect=false --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials=false --bind-address 127.0.0.1 --secure-port "$KCM_PORT" \
    --controllers '*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route' \
    --node-monitor-grace-period 1h ${QPS_FLAGS[@]+"${QPS_FLAGS[@]}"}
  wait_for kube-controller-manager curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz"

  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$KUBECONFIG_FILE" \
    --authentication-kubeconfig "$KUBECONFIG_FILE" --authorization-kubeconfig "$KUBECONFIG_FILE" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" ${QPS_FLAGS[@]+"${QPS_FLAGS[@]}"}
  wait_for kube-scheduler curl -fsSk "https://127.0.0.1:$SCHED_PORT/healthz"

  [ "$NODES" = 0 ] || start kwok "$BIN/kwok" --kubeconfig "$KUBECONFIG_FILE" --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --cidr 10.244.0.1/16 \
    --node-ip 127.0.0.1 --server-address 127.0.0.1:0
  for i in $(seq 0 $((NODES - 1))); do node_manifest "$i" | kc apply -f - >/dev/null; done
  [ "$NODES" = 0 ] || wait_for "kwok nodes" bash -c "[ \"\$('$BIN/kubectl' --kubeconfig '$KUBECONFIG_FILE' get nodes -o jsonpath='{.items[*].status.conditions[?(@.type==\"Ready\")].status}' | tr ' ' '\n' | grep -c True)\" -ge $NODES ]"

  storage_class
  start pv-provisioner "$HERE/pv-provisioner.sh" "$KUBECONFIG_FILE" "$PIDS/kube-apiserver"
  wait_for "default ServiceAccount" kc -n default get serviceaccount default
  kc apply -f "$HERE/node/rbac.yaml" >/dev/null
  [ "$REAL_NODE" = none ] || "$HERE/node.sh" up
  say "up: $("$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" version 2>/dev/null | grep Server)"
  say "use it with: eval \"\$($0 env)\""
}

cmd_down() {
  "$HERE/node.sh" down
  # versitygw: the e2e binary starts it and writes its PID here, so that it
  # goes even when that binary was killed before it could stop it.
  local order="versitygw pv-provisioner kwok kube-scheduler kube-controller-manager kube-apiserver etcd"
  for name in $order; do stop_pid "$name"; done
  rm -rf "$STATE/etcd" "$STATE/volumes"
}

cmd_status() {
  local all=0
  local names="etcd kube-apiserver kube-controller-manager kube-scheduler pv-provisioner"
  [ ! -f "$PIDS/kwok" ] || names="$names kwok"
  for name in $names; do
    if running "$name"; then echo "$name: running (pid $(cat "$PIDS/$name"))"; else echo "$name: stopped"; all=1; fi
  done
  if kc get --raw /readyz >/dev/null 2>&1; then echo "api server: ready (https://$NODE_IP:$API_PORT)"; else echo "api server: not ready"; all=1; fi
  if [ "$REAL_NODE" != none ]; then "$HERE/node.sh" status || all=1; fi
  echo "logs: $LOGS"
  return $all
}

cmd_env() {
  echo "export KUBECONFIG=$KUBECONFIG_FILE"
  echo "export PATH=$BIN:\$PATH"
  echo "export SERVICEDB_E2E_LOGS=$LOGS"
  echo "export SERVICEDB_E2E_PIDS=$PIDS"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
