# shellcheck shell=bash disable=SC2034 # a recipe: variables read by e2e/images.sh
# Debian's prometheus-postgres-exporter (0.11.1 in bookworm), a test double of
# quay.io/prometheuscommunity/postgres-exporter:v0.17.1, which the operator
# names (src/engine/postgres: `fn exporter`). Same entrypoint path
# /bin/postgres_exporter (a link to Debian's binary), user nobody, and the
# contract the operator uses, which 0.11.1 already has:
#   --web.listen-address=:9187, DATA_SOURCE_URI, DATA_SOURCE_USER, DATA_SOURCE_PASS.
IMAGE=localhost/servicedb/postgres-exporter:bookworm
PACKAGES="prometheus-postgres-exporter"
USER_ID=65534:65534
ENTRYPOINT='["/bin/postgres_exporter"]'
PORTS=9187/tcp
ESTIMATE="packages ~10 s"

after_packages() {
  ln -sf prometheus-postgres-exporter "$ROOT/usr/bin/postgres_exporter"
}
