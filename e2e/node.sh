#!/usr/bin/env bash
# A real worker node joined to the local control plane of e2e/cluster.sh:
# containerd + runc run real pods on a bridge with no default route,
# kube-proxy programs Services, kube-router enforces NetworkPolicies, and
# CoreDNS (a pod in kube-system) resolves cluster.local. Built once into the
# tool cache (e2e/tools.sh node); images come from e2e/images.sh.
#
#   e2e/node.sh net-up    the bridge and its routes (cluster.sh runs it first:
#                         the API server listens on the bridge address)
#   e2e/node.sh up        containerd, kubelet, kube-proxy, kube-router, CoreDNS
#   e2e/node.sh import TAR...   images into containerd, without a registry
#   e2e/node.sh down      stop what `up` started by PID, remove its iptables
#                         chains, ipsets, mounts, cgroups, bridge and route
#   e2e/node.sh leftovers what `down` should have removed and did not (exit 1)
#   e2e/node.sh status    what runs
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${SERVICEDB_CACHE:-$HOME/.cache/servicedb-e2e}
BIN=$CACHE/bin
CLUSTER=${SERVICEDB_CLUSTER_DIR:-$CACHE/cluster}
PKI=$CLUSTER/pki
STATE=$CACHE/node
LOGS=$CLUSTER/logs
PIDS=$STATE/pids
# Recorded by `net-up`: what existed before, so `down` removes only ours.
BEFORE=$STATE/before

NODE_NAME=${NODE_NAME:-sdb-node}
BRIDGE=${NODE_BRIDGE:-sdbbr0}
NODE_IP=${NODE_IP:-10.210.0.1}
POD_CIDR=${POD_CIDR:-10.210.0.0/24}
SERVICE_CIDR=${SERVICE_CIDR:-10.96.0.0/16}
DNS_IP=${DNS_IP:-10.96.0.10}
API_PORT=${API_PORT:-16443}
KUBELET_PORT=20250
CGROUP_ROOT=servicedb
PAUSE_IMAGE=localhost/servicedb/pause:3.10
COREDNS_IMAGE=localhost/servicedb/coredns:1.14.7
READY_TIMEOUT=${READY_TIMEOUT:-120}
# Host paths the components write whatever their settings; removed by `down`
# only when `up` created them.
HOST_PATHS="/run/containerd /var/lib/cni /var/lib/kubelet /var/log/containers /var/log/pods"
# Kernel settings the kubelet and kube-proxy change; `down` restores them.
SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables net.ipv4.ip_forward"

WHO=node LOG_PREFIX=node-
. "$HERE/lib.sh"
kc() { "$BIN/kubectl" --kubeconfig "$CLUSTER/admin.kubeconfig" "$@"; }
ctr_() { "$BIN/ctr" --address "$STATE/containerd.sock" -n k8s.io "$@"; }

# Every prerequisite, each failure naming what is missing and how to get it.
check_prerequisites() {
  local missing=()
  for b in kubelet kube-proxy containerd ctr containerd-shim-runc-v2 kube-router coredns kubectl; do
    [ -x "$BIN/$b" ] || missing+=("binary $BIN/$b (run: e2e/tools.sh node)")
  done
  for b in runc iptables iptables-save ipset ip findmnt; do
    command -v "$b" >/dev/null || missing+=("command $b (apt-get install runc iptables ipset iproute2 util-linux)")
  done
  for p in bridge host-local loopback portmap; do
    [ -x "/usr/lib/cni/$p" ] || missing+=("CNI plugin /usr/lib/cni/$p (apt-get install containernetworking-plugins)")
  done
  for c in cpu cpuacct cpuset memory pids devices freezer; do
    [ -d "/sys/fs/cgroup/$c" ] || missing+=("cgroup v1 controller $c (not mounted at /sys/fs/cgroup/$c)")
  done
  grep -qw overlay /proc/filesystems || missing+=("kernel support for overlayfs (modprobe overlay)")
  [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" = 1 ] \
    || sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null \
    || missing+=("kernel module br_netfilter (modprobe br_netfilter): Services and NetworkPolicies need bridged traffic to pass iptables")
  if ! ipset create sdb-probe hash:ip >/dev/null 2>&1; then
    missing+=("kernel ipset support (modprobe ip_set xt_set): kube-router enforces NetworkPolicies with ipsets")
  fi
  ipset destroy sdb-probe >/dev/null 2>&1 || true
  [ -f "$PKI/ca.key" ] || missing+=("the cluster CA in $PKI (run: e2e/cluster.sh up)")
  [ ${#missing[@]} -eq 0 ] && return
  for m in "${missing[@]}"; do say "missing: $m"; done
  die "the node cannot start: ${#missing[@]} prerequisite(s) missing"
}

# --- network -------------------------------------------------------------

cmd_net_up() {
  mkdir -p "$STATE" "$PIDS" "$BEFORE" "$LOGS"
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    record_before
    ip link add "$BRIDGE" type bridge
    ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    say "bridge $BRIDGE $NODE_IP up"
  fi
  # A ClusterIP that kube-proxy has not programmed yet dies on the bridge
  # instead of leaving through the machine's outer interface.
  ip route replace "$SERVICE_CIDR" dev "$BRIDGE" src "$NODE_IP"
  # A pod reaches a Service through the host (DNAT, then routed back onto
  # the bridge): forwarding on, but only from the bridge to the bridge.
  sysctl -qw net.ipv4.ip_forward=1
  if ! iptables -S SDB-NODE-FORWARD >/dev/null 2>&1; then
    iptables -N SDB-NODE-FORWARD
    iptables -A SDB-NODE-FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -j DROP
    iptables -A SDB-NODE-FORWARD -o "$BRIDGE" ! -i "$BRIDGE" -j DROP
    iptables -I FORWARD 1 -j SDB-NODE-FORWARD
  fi
}

# The host's state before anything here touched it.
record_before() {
  iptables-save >"$BEFORE/iptables"
  ipset list -n >"$BEFORE/ipsets" 2>/dev/null || true
  : >"$BEFORE/host-paths"
  for p in $HOST_PATHS; do [ -e "$p" ] && echo "$p" >>"$BEFORE/host-paths"; done
  : >"$BEFORE/sysctls"
  for s in $SYSCTLS; do echo "$s=$(sysctl -n "$s" 2>/dev/null)" >>"$BEFORE/sysctls"; done
}

# --- certificates and kubeconfigs ------------------------------------------

sign() { # name subject ext-usage [san]
  [ -f "$STATE/pki/$1.crt" ] && return
  mkdir -p "$STATE/pki"
  local ext="$STATE/pki/$1.ext"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n' "$3" >"$ext"
  [ -z "${4:-}" ] || echo "subjectAltName=$4" >>"$ext"
  openssl req -newkey rsa:2048 -nodes -keyout "$STATE/pki/$1.key" -out "$STATE/pki/$1.csr" -subj "$2" 2>/dev/null
  openssl x509 -req -in "$STATE/pki/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -out "$STATE/pki/$1.crt" -days 3650 -extfile "$ext" 2>/dev/null
}

kubeconfig_for() { # name
  local f=$STATE/$1.kubeconfig
  "$BIN/kubectl" config set-cluster e2e --server="https://$NODE_IP:$API_PORT" \
    --certificate-authority="$PKI/ca.crt" --embed-certs --kubeconfig "$f" >/dev/null
  "$BIN/kubectl" config set-credentials "$1" --client-certificate="$STATE/pki/$1.crt" \
    --client-key="$STATE/pki/$1.key" --embed-certs --kubeconfig "$f" >/dev/null
  "$BIN/kubectl" config set-context e2e --cluster=e2e --user="$1" --kubeconfig "$f" >/dev/null
  "$BIN/kubectl" config use-context e2e --kubeconfig "$f" >/dev/null
}

certificates() {
  sign kubelet "/CN=system:node:$NODE_NAME/O=system:nodes" clientAuth
  sign kubelet-serving "/CN=$NODE_NAME" serverAuth "IP:$NODE_IP,DNS:$NODE_NAME"
  sign kube-proxy "/CN=system:kube-proxy" clientAuth
  sign kube-router "/CN=system:kube-router" clientAuth
  for c in kubelet kube-proxy kube-router; do kubeconfig_for "$c"; done
}

# --- configuration -----------------------------------------------------------

write_configs() {
  mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam" "$STATE/kubelet" "$STATE/pod-logs" "$STATE/runc"
  sed -e "s|@STATE@|$STATE|g" -e "s|@PAUSE@|$PAUSE_IMAGE|g" "$HERE/node/containerd.toml" >"$STATE/containerd.toml"
  sed -e "s|@BRIDGE@|$BRIDGE|g" -e "s|@POD_CIDR@|$POD_CIDR|g" -e "s|@NODE_IP@|$NODE_IP|g" \
    -e "s|@SERVICE_CIDR@|$SERVICE_CIDR|g" -e "s|@STATE@|$STATE|g" \
    "$HERE/node/cni.conflist" >"$STATE/cni/net.d/10-servicedb.conflist"
  sed -e "s|@STATE@|$STATE|g" -e "s|@NODE_IP@|$NODE_IP|g" -e "s|@DNS_IP@|$DNS_IP|g" \
    -e "s|@PKI@|$PKI|g" -e "s|@PORT@|$KUBELET_PORT|g" -e "s|@CGROUP_ROOT@|$CGROUP_ROOT|g" \
    "$HERE/node/kubelet.yaml" >"$STATE/kubelet.yaml"
  sed -e "s|@STATE@|$STATE|g" -e "s|@NODE_IP@|$NODE_IP|g" -e "s|@POD_CIDR@|$POD_CIDR|g" \
    -e "s|@NODE@|$NODE_NAME|g" "$HERE/node/kube-proxy.yaml" >"$STATE/kube-proxy.yaml"
  # Pods resolve through CoreDNS only; nothing of the host's resolver leaks in.
  echo "nameserver $DNS_IP" >"$STATE/resolv.conf"
}

# --- up ------------------------------------------------------------------------

cmd_import() { # tar...
  running containerd || die "containerd is not running: e2e/node.sh up"
  local tar name
  for tar in "$@"; do
    name=$(python3 -c 'import json,sys,tarfile; t=tarfile.open(sys.argv[1]); i=json.load(t.extractfile("index.json")); print(i["manifests"][0]["annotations"]["io.containerd.image.name"])' "$tar")
    if [ -f "$STATE/imported/$(basename "$tar")" ] && ctr_ images ls -q | grep -qx "$name"; then continue; fi
    say "importing $name"
    # ctr warns on every call that cgroup v1 is deprecated: keep errors only.
    ctr_ images import --snapshotter overlayfs "$tar" >/dev/null 2>"$STATE/import.err" \
      || die "ctr could not import $tar: $(grep -v DEPRECATION "$STATE/import.err")"
    mkdir -p "$STATE/imported"; touch "$STATE/imported/$(basename "$tar")"
  done
}

cmd_up() {
  local t0=$SECONDS
  check_prerequisites
  cmd_net_up
  certificates
  write_configs

  PATH=$BIN:$PATH start containerd "$BIN/containerd" --config "$STATE/containerd.toml"
  wait_for containerd "$BIN/ctr" --address "$STATE/containerd.sock" version
  local pause; pause=$("$HERE/images.sh" path pause) || die "the pause image is not built: e2e/images.sh build pause"
  cmd_import "$pause"

  cgroup_root
  start kubelet "$BIN/kubelet" --config "$STATE/kubelet.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --root-dir "$STATE/kubelet" --cert-dir "$STATE/pki" \
    --node-labels "servicedb.dev/node=real" --v 1
  wait_for "node $NODE_NAME registered" kc get node "$NODE_NAME"

  start kube-proxy "$BIN/kube-proxy" --config "$STATE/kube-proxy.yaml"
  start kube-router "$BIN/kube-router" --kubeconfig "$STATE/kube-router.kubeconfig" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
    --enable-ipv6=false --service-cluster-ip-range "$SERVICE_CIDR" --health-port 0 --metrics-port 0 \
    --hostname-override "$NODE_NAME"
  wait_for "node $NODE_NAME Ready" bash -c "[ \"\$('$BIN/kubectl' --kubeconfig '$CLUSTER/admin.kubeconfig' get node $NODE_NAME -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}')\" = True ]"

  coredns
  say "node up in $((SECONDS - t0))s: $NODE_NAME at $NODE_IP, pods on $POD_CIDR, DNS $DNS_IP"
}

coredns() {
  local image; image=$("$HERE/images.sh" path coredns) || die "the CoreDNS image is not built: e2e/images.sh build coredns"
  cmd_import "$image"
  sed -e "s|@DNS_IP@|$DNS_IP|g" -e "s|@IMAGE@|$COREDNS_IMAGE|g" "$HERE/node/coredns.yaml" | kc apply -f - >/dev/null
  wait_for "CoreDNS" kc -n kube-system wait --for=condition=Available deployment/coredns --timeout=2s
}

# The kubelet's cgroupRoot, in every hierarchy: all pods live under it, so
# `down` can remove exactly what the node made.
cgroup_root() {
  local c
  for c in /sys/fs/cgroup/*/; do
    [ -d "$c" ] && [ "$(basename "$c")" != unified ] || continue
    mkdir -p "$c$CGROUP_ROOT"
    if [ -f "${c}cpuset.cpus" ]; then
      cat "${c}cpuset.cpus" >"$c$CGROUP_ROOT/cpuset.cpus"
      cat "${c}cpuset.mems" >"$c$CGROUP_ROOT/cpuset.mems"
    fi
  done
}

# --- down ----------------------------------------------------------------------

# The shims containerd started outlive it: stop every container first,
# then the shims, which are ours by their binary's path.
stop_containers() {
  running containerd || return 0
  local task
  for task in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s KILL "$task" >/dev/null 2>&1 || true; done
  for _ in $(seq 1 20); do [ -z "$(ctr_ tasks ls -q 2>/dev/null)" ] && break; sleep 0.25; done
  for task in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$task" >/dev/null 2>&1 || true; done
  for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" >/dev/null 2>&1 || true; done
}

stop_shims() {
  local pid
  for pid in $(pgrep -f "^$BIN/containerd-shim-runc-v2" || true); do kill -KILL "$pid" 2>/dev/null || true; done
}

# Rules that jump to chains `up` added, then those chains, then their ipsets.
remove_chains() {
  [ -f "$BEFORE/iptables" ] || return 0
  python3 "$HERE/node/iptables_diff.py" "$BEFORE/iptables" <(iptables-save) | while read -r line; do
    eval "iptables $line" 2>/dev/null || true
  done
  local set
  for set in $(ipset list -n 2>/dev/null); do
    grep -qx "$set" "$BEFORE/ipsets" 2>/dev/null || ipset destroy "$set" 2>/dev/null || true
  done
}

unmount_ours() {
  local m
  for m in $(findmnt -rn -o TARGET | grep -E "^($STATE|/run/containerd|/var/lib/kubelet)" | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

# Whatever still runs in the node's cgroups (a container whose runtime died
# first) is the node's: killed by PID.
kill_pod_processes() {
  local pid
  for pid in $(find /sys/fs/cgroup/pids/"$CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null); do
    kill -KILL "$pid" 2>/dev/null || true
  done
}

remove_cgroups() {
  local c
  for c in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
    [ -d "$c" ] || continue
    find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

restore_host() {
  if [ -f "$BEFORE/sysctls" ]; then
    while IFS='=' read -r key value; do
      [ -n "$value" ] && sysctl -qw "$key=$value" 2>/dev/null || true
    done <"$BEFORE/sysctls"
  fi
  for p in $HOST_PATHS; do
    grep -qx "$p" "$BEFORE/host-paths" 2>/dev/null || rm -rf "$p"
  done
}

cmd_down() {
  stop_pid kubelet
  stop_containers
  for name in kube-router kube-proxy containerd; do stop_pid "$name"; done
  stop_shims
  kill_pod_processes
  unmount_ours
  remove_chains
  remove_cgroups
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE"
  ip route del "$SERVICE_CIDR" 2>/dev/null || true
  restore_host
  # Runtime state goes; built binaries, images and certificates stay cached.
  rm -rf "$STATE/containerd" "$STATE/kubelet" "$STATE/cni" "$STATE/pod-logs" "$STATE/runc" "$STATE/imported" "$BEFORE"
  say "node down"
}

# Anything `down` should have removed; prints each and exits 1 if any is left.
cmd_leftovers() {
  local left=0
  report() { echo "left behind: $*"; left=1; }
  local pid
  for pid in $(pgrep -f "^$BIN/(containerd|kubelet|kube-proxy|kube-router|coredns|versitygw)" || true); do
    report "process $pid $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-80)"
  done
  ip link show "$BRIDGE" >/dev/null 2>&1 && report "bridge $BRIDGE"
  ip route show | grep -q "$SERVICE_CIDR" && report "route $(ip route show | grep "$SERVICE_CIDR")"
  ip link show type veth 2>/dev/null | grep -q veth && report "veth interfaces: $(ip -br link show type veth | awk '{print $1}' | tr '\n' ' ')"
  findmnt -rn -o TARGET | grep -E "^($STATE|/run/containerd|/var/lib/kubelet)" | while read -r m; do echo "left behind: mount $m"; done | grep . && left=1
  iptables-save | grep -E '^:(KUBE|CNI|SDB)-' | while read -r c; do echo "left behind: iptables chain ${c%% *}"; done | grep . && left=1
  ipset list -n 2>/dev/null | grep -iE '^(kube|KUBE)' | while read -r s; do echo "left behind: ipset $s"; done | grep . && left=1
  for c in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do [ -d "$c" ] && report "cgroup $c"; done
  for pid in $(find /sys/fs/cgroup/pids/"$CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null); do
    report "process $pid in the node's cgroups"
  done
  [ $left = 0 ] && echo "nothing left behind"
  return $left
}

cmd_status() {
  local all=0
  for name in containerd kubelet kube-proxy kube-router; do
    if running "$name"; then echo "$name: running (pid $(cat "$PIDS/$name"))"; else echo "$name: stopped"; all=1; fi
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then echo "bridge $BRIDGE: $NODE_IP"; else echo "bridge $BRIDGE: absent"; all=1; fi
  kc get node "$NODE_NAME" --no-headers 2>/dev/null | awk '{print "node " $1 ": " $2}' || { echo "node $NODE_NAME: not registered"; all=1; }
  kc -n kube-system get deployment coredns --no-headers 2>/dev/null | awk '{print "coredns: " $2 " ready"}' || true
  return $all
}

case ${1:-} in
  net-up) cmd_net_up ;;
  up) cmd_up ;;
  import) shift; cmd_import "$@" ;;
  down) cmd_down ;;
  leftovers) cmd_leftovers ;;
  status) cmd_status ;;
  *) echo "usage: $0 net-up|up|import TAR...|down|leftovers|status" >&2; exit 2 ;;
esac
