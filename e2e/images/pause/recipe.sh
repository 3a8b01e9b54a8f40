# shellcheck shell=bash disable=SC2034 # a recipe: variables read by e2e/images.sh
# The pod sandbox of Kubernetes v1.36.3, built as its Makefile does
# (build/pause/Makefile: TAG 3.10.2, `gcc -Os -Wall -Werror -static`, strip)
# from build/pause/linux/pause.c of the k8s.io/kubernetes Go module, in an
# image holding only /pause, like registry.k8s.io/pause:3.10.2.
# e2e/node.sh pins this name as containerd's sandbox image.
IMAGE=localhost/servicedb/pause:3.10
FROM=scratch
K8S_VERSION=v1.36.3
PAUSE_TAG=3.10.2
USER_ID=65535:65535
ENTRYPOINT='["/pause"]'
ESTIMATE="gcc, ~5 s"
KEY_EXTRA="k8s.io/kubernetes@$K8S_VERSION pause $PAUSE_TAG gcc $(gcc -dumpfullversion 2>/dev/null || echo none)"

make_rootfs() {
  need_packages gcc libc6-dev
  command -v go >/dev/null || die "the pause image needs Go on PATH (it reads the k8s.io/kubernetes module)"
  local dir
  dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_TAG-servicedb" \
    -o "$ROOT/pause" "$dir/build/pause/linux/pause.c"
  strip "$ROOT/pause"
}
