#!/usr/bin/env bash
# Stands in for a storage driver: binds every Pending PVC of the default
# class, once the scheduler has picked its node (WaitForFirstConsumer), to a
# new hostPath PV under the cluster's state directory. Stops by itself when the API server it serves
# is gone, and after at most 12 hours.
set -uo pipefail
KUBECONFIG_FILE=$1
APISERVER_PIDFILE=$2
VOLUMES=$(dirname "$KUBECONFIG_FILE")/volumes
KUBECTL=${KUBECTL:-$(dirname "$KUBECONFIG_FILE")/../bin/kubectl}
[ -x "$KUBECTL" ] || KUBECTL=kubectl
for _ in $(seq 1 43200); do
  pid=$(cat "$APISERVER_PIDFILE" 2>/dev/null) || exit 0
  kill -0 "$pid" 2>/dev/null || exit 0
  "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" get pvc -A \
    -o jsonpath='{range .items[?(@.status.phase=="Pending")]}{.metadata.namespace}{" "}{.metadata.name}{" "}{.metadata.uid}{" "}{.spec.resources.requests.storage}{" "}{.spec.storageClassName}{" "}{.metadata.annotations.volume\.kubernetes\.io/selected-node}{"\n"}{end}' 2>/dev/null |
  while read -r ns name uid size class node; do
    [ -n "$node" ] || continue
    [ "$class" = "standard" ] || continue
    # fsGroup does not apply to hostPath: a non-root database on the real
    # node could not write to a root-owned 0755 directory.
    mkdir -p "$VOLUMES/$uid" && chmod 0777 "$VOLUMES/$uid"
    "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" apply -f - >/dev/null 2>&1 <<PV
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-$uid
  labels: {e2e.servicedb.dev/provisioned: "true"}
spec:
  capacity: {storage: $size}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: standard
  hostPath: {path: $VOLUMES/$uid}
  claimRef: {namespace: $ns, name: $name, uid: $uid}
PV
  done
  sleep 1
done
