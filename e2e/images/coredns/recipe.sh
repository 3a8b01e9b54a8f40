# shellcheck shell=bash disable=SC2034 # a recipe: variables read by e2e/images.sh
# CoreDNS v1.14.7 as the cluster DNS pod (e2e/node/coredns.yaml): only
# packs the static binary that e2e/tools.sh builds (COREDNS_BINARY, default
# $CACHE/bin/coredns), like registry.k8s.io/coredns/coredns:v1.14.7
# (/coredns, non-root 65532). The image holds nothing else.
IMAGE=localhost/servicedb/coredns:1.14.7
FROM=scratch
BINARY=$COREDNS_BINARY
BINARY_VAR=COREDNS_BINARY
USER_ID=65532:65532
ENTRYPOINT='["/coredns"]'
PORTS="53/tcp 53/udp"
ESTIMATE="packing only, ~2 s"

make_rootfs() {
  # ldd fails on a static binary: the image has no libc.
  if ldd "$BINARY" >/dev/null 2>&1; then say "warning: $BINARY is dynamically linked; the image has no libc"; fi
  install -m 0755 "$BINARY" "$ROOT/coredns"
}
