# shellcheck shell=bash disable=SC2034 # a recipe: variables read by e2e/images.sh
# Debian's prometheus-redis-exporter (1.45.0 in bookworm), a test double of
# quay.io/oliver006/redis_exporter:v1.74.0, which the operator names
# (src/engine/redis.rs: `fn exporter`). Same entrypoint path /redis_exporter
# (a link to Debian's binary), non-root, and the environment the operator
# passes, which 1.45 already reads: REDIS_ADDR, REDIS_USER, REDIS_PASSWORD,
# REDIS_EXPORTER_WEB_LISTEN_ADDRESS.
IMAGE=localhost/servicedb/redis-exporter:bookworm
PACKAGES="prometheus-redis-exporter"
USER_ID=65534:65534
ENTRYPOINT='["/redis_exporter"]'
PORTS=9121/tcp
ESTIMATE="packages ~10 s"

after_packages() {
  ln -sf usr/bin/prometheus-redis-exporter "$ROOT/redis_exporter"
}
