# shellcheck shell=bash disable=SC2034 # a recipe: variables read by e2e/images.sh
# Debian's prometheus-mysqld-exporter (0.14.0 in bookworm), a test double of
# quay.io/prometheus/mysqld-exporter:v0.17.2, which the operator names
# (src/engine/mysql.rs: `fn exporter`). The operator passes the flags of
# 0.15+ (--mysqld.address, --mysqld.username, MYSQLD_EXPORTER_PASSWORD),
# which 0.14.0 lacks: /bin/mysqld_exporter (the upstream entrypoint path) is
# a wrapper (this folder) that turns them into 0.14's DATA_SOURCE_NAME.
IMAGE=localhost/servicedb/mysqld-exporter:bookworm
PACKAGES="prometheus-mysqld-exporter"
USER_ID=65534:65534
ENTRYPOINT='["/bin/mysqld_exporter"]'
PORTS=9104/tcp
ESTIMATE="packages ~10 s"

after_packages() {
  put mysqld_exporter /usr/bin/mysqld_exporter
}
