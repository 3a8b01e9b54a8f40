#!/usr/bin/env bash
# Builds, once per machine and pinned version, the real Kubernetes control
# plane and the test tools from the Go module proxy, into a cache outside the
# repository. Each tool is built in its own throwaway Go module so that their
# dependency versions never meet. Safe to re-run: a cached binary is kept.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.7.0}
HELM_VERSION=${HELM_VERSION:-v3.19.5}
NETPOL_VERSION=${NETPOL_VERSION:-v1.4.4}
VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}
PROMETHEUS_OPERATOR_VERSION=${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}
# The real node (e2e/node.sh). kube-router v2.1.0 is the only version the
# module proxy serves here; it is test infrastructure, never shipped.
CONTAINERD_VERSION=${CONTAINERD_VERSION:-v2.2.9}
KUBE_ROUTER_VERSION=${KUBE_ROUTER_VERSION:-v2.1.0}
COREDNS_VERSION=${COREDNS_VERSION:-v1.14.7}

CACHE=${SERVICEDB_CACHE:-$HOME/.cache/servicedb-e2e}
BIN=$CACHE/bin
WORK=$CACHE/build
mkdir -p "$BIN" "$WORK"
export GOFLAGS=-mod=mod CGO_ENABLED=0
# The checksum database has no entry for some np-guard modules; the proxy still serves them.
export GONOSUMDB=${GONOSUMDB:-github.com/np-guard}

say() { printf '[tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

have() { [ -x "$BIN/$1" ] && [ -f "$BIN/$1.version" ] && [ "$(cat "$BIN/$1.version")" = "$2" ]; }
mark() { echo "$2" > "$BIN/$1.version"; }

fresh_module() {
  rm -rf "$WORK/$1"; mkdir -p "$WORK/$1"; cd "$WORK/$1"
  go mod init "local/$1" >/dev/null 2>&1
}

build_kubernetes() { # binaries...
  local want="$*"
  local missing=0
  for b in $want; do have "$b" "$K8S_VERSION" || missing=1; done
  [ $missing = 0 ] && return
  say "building Kubernetes $K8S_VERSION ($want); the first time takes 20-40 minutes on 2 cores, later ones reuse the Go build cache"
  fresh_module k8s
  local staging minor mod
  staging=v0.${K8S_VERSION#v1.}
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  go mod download k8s.io/kubernetes@"$K8S_VERSION"
  mod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod
  for m in $(awk '$2=="=>" && $3 ~ /^\.\/staging/ {print $1}' "$mod"); do
    go mod edit -replace="$m=$m@$staging"
  done
  grep '^godebug' "$mod" >> go.mod || true
  local p=k8s.io/kubernetes/cmd
  say "resolving modules"
  go get "k8s.io/kubernetes@$K8S_VERSION"
  local now; now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local ld=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld="$ld -X $pkg.gitTreeState=clean -X $pkg.gitCommit=0000000000000000000000000000000000000000 -X $pkg.buildDate=$now"
  done
  for b in $want; do
    have "$b" "$K8S_VERSION" && continue
    say "compiling $b"
    go build -trimpath -tags notest -ldflags "-s -w $ld" -o "$BIN/$b" "$p/$b"
    mark "$b" "$K8S_VERSION"
  done
}

build_etcd() {
  have etcd "$ETCD_VERSION" && return
  say "building etcd $ETCD_VERSION"
  fresh_module etcd
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3
  mark etcd "$ETCD_VERSION"
}

# For modules whose proxy listing is unavailable (go install looks it up):
# require the exact version from a throwaway module and build the package.
build_in_module() { # name module package version
  have "$1" "$4" && return
  say "building $1 $4"
  fresh_module "$1"
  go get "$2@$4"
  go build -trimpath -ldflags "-s -w" -o "$BIN/$1" "$3"
  mark "$1" "$4"
}

build_go_install() { # name module version [ldflags]
  have "$1" "$3" && return
  say "building $1 $3"
  GOBIN="$BIN" go install -trimpath -ldflags "-s -w ${4:-}" "$2@$3"
  mark "$1" "$3"
}

# containerd, ctr and the runc shim, built as containerd's own main module
# (its go.mod's replace lines apply only there).
build_containerd() {
  have containerd "$CONTAINERD_VERSION" && have ctr "$CONTAINERD_VERSION" \
    && have containerd-shim-runc-v2 "$CONTAINERD_VERSION" && return
  say "building containerd $CONTAINERD_VERSION (containerd, ctr, containerd-shim-runc-v2; ~3 minutes)"
  local src
  src=$(cd /tmp && go mod download -json "github.com/containerd/containerd/v2@$CONTAINERD_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$WORK/containerd"; cp -r "$src" "$WORK/containerd"; chmod -R u+w "$WORK/containerd"; cd "$WORK/containerd"
  local tags="no_btrfs no_devmapper no_zfs urfave_cli_no_docs"
  local ld="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
  go build -trimpath -tags "$tags" -ldflags "$ld" -o "$BIN/containerd" ./cmd/containerd
  go build -trimpath -tags "$tags" -ldflags "$ld" -o "$BIN/ctr" ./cmd/ctr
  go build -trimpath -tags "$tags no_grpc" -ldflags "$ld" -o "$BIN/containerd-shim-runc-v2" ./cmd/containerd-shim-runc-v2
  for b in containerd ctr containerd-shim-runc-v2; do mark "$b" "$CONTAINERD_VERSION"; done
}

# CoreDNS with only the plugins a cluster.local resolver needs.
build_coredns() {
  have coredns "$COREDNS_VERSION" && return
  say "building CoreDNS $COREDNS_VERSION (kubernetes, cache, health, ready, errors, log; ~2 minutes)"
  fresh_module coredns
  cat > main.go <<'GO'
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() { coremain.Run() }
GO
  go get "github.com/coredns/coredns@$COREDNS_VERSION"
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$BIN/coredns" .
  mark coredns "$COREDNS_VERSION"
}

# The PodMonitor and PrometheusRule CRDs, as the Prometheus Operator ships
# them in its Go module, into $CACHE/crds.
prometheus_operator_crds() {
  local dir=$CACHE/crds/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION
  mkdir -p "$CACHE/crds"
  # The suite reads them through this link, whatever the version.
  ln -sfn "$dir" "$CACHE/crds/prometheus-operator"
  [ -f "$dir/monitoring.coreos.com_prometheusrules.yaml" ] && return
  say "fetching the Prometheus Operator's CRDs $PROMETHEUS_OPERATOR_VERSION from the Go module proxy"
  fresh_module prometheus-operator
  local src
  src=$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  mkdir -p "$dir"
  ln -sfn "$dir" "$CACHE/crds/prometheus-operator"
  for kind in podmonitors prometheusrules; do
    cp "$src/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml" "$dir/"
  done
}

tools=${*:-all}
for t in $tools; do
  case $t in
    kubernetes) build_kubernetes kube-apiserver kube-controller-manager kube-scheduler kubectl ;;
    kubelet) build_kubernetes kubelet kube-proxy ;;
    containerd) build_containerd ;;
    kube-router) build_in_module kube-router github.com/cloudnativelabs/kube-router/v2 \
                   github.com/cloudnativelabs/kube-router/v2/cmd/kube-router "$KUBE_ROUTER_VERSION" ;;
    coredns) build_coredns ;;
    node) "$0" kubelet containerd kube-router coredns ;;
    etcd) build_etcd ;;
    kwok) build_go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" ;;
    helm) build_go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" \
            "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" ;;
    netpolicy) build_in_module netpolicy github.com/np-guard/netpol-analyzer \
                 github.com/np-guard/netpol-analyzer/cmd/netpolicy "$NETPOL_VERSION" ;;
    versitygw) build_in_module versitygw github.com/versity/versitygw \
                 github.com/versity/versitygw/cmd/versitygw "$VERSITYGW_VERSION" ;;
    prometheus-operator-crds) prometheus_operator_crds ;;
    # Two lines at once: the Kubernetes module (control plane, then kubelet
    # and kube-proxy from the same module) and every other tool.
    all) "$0" containerd kube-router coredns netpolicy versitygw prometheus-operator-crds &
         others=$!
         "$0" etcd kwok helm kubernetes kubelet
         wait "$others" ;;
    *) echo "unknown tool $t (kubernetes|etcd|kwok|helm|netpolicy|versitygw|prometheus-operator-crds|kubelet|containerd|kube-router|coredns|node|all)" >&2; exit 2 ;;
  esac
done
say "tools ready in $BIN"
