#!/usr/bin/env bash
# The same e2e suite against a real kind cluster, for machines with Docker.
# It cannot run on the project's CI machines (no Docker engine there); the
# local control plane of e2e/cluster.sh is what CI uses.
#
# What differs from the local control plane: the image is built from the
# Dockerfile and loaded to prove it builds. The suite's real-node phase looks
# for the node of e2e/node.sh (label servicedb.dev/node=real, the images of
# e2e/images.sh imported) and is skipped on kind; what runs is the stand-in
# phase, with the operator as a local process under the chart's
# ServiceAccount. Not run by CI, and not tested since the suite moved onto
# the real node.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLUSTER=${KIND_CLUSTER:-servicedb-e2e}
IMAGE=servicedb:e2e
for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "kind e2e needs $tool on PATH" >&2; exit 1; }
done
kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER" --wait 120s
docker build -t "$IMAGE" .
docker build --target tools -t servicedb-tools:e2e .
kind load docker-image "$IMAGE" servicedb-tools:e2e --name "$CLUSTER"
kubectl apply --server-side -f crds/
helm upgrade --install servicedb charts/servicedb -n servicedb-system --create-namespace \
  --set image.repository=servicedb --set image.tag=e2e --set image.pullPolicy=Never --set replicas=0 \
  --set toolsImage.repository=servicedb-tools --set toolsImage.tag=e2e
# The zero-writes scenario reads the API server's audit log, which kind keeps
# inside its node container: it is skipped here.
cargo build --workspace --quiet
SERVICEDB_E2E_LOGS=${SERVICEDB_E2E_LOGS:-$(mktemp -d)} SERVICEDB_E2E_SKIP="zero writes" \
  target/debug/servicedb-e2e "${@:-}"
