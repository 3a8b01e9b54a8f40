# shellcheck shell=bash disable=SC2034 # a recipe: variables read by e2e/images.sh
# Debian's prometheus (2.42 in bookworm), standing in for prom/prometheus:
# /usr/bin/prometheus as entrypoint, user nobody, the same default command
# (config /etc/prometheus/prometheus.yml, TSDB in /prometheus, which is the
# working directory and nobody's; mount a volume or emptyDir there with a
# read-only root).
IMAGE=localhost/servicedb/prometheus:bookworm
PACKAGES="prometheus"
USER_ID=65534:65534
ENTRYPOINT='["/usr/bin/prometheus"]'
CMD='["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]'
WORKDIR=/prometheus
PORTS=9090/tcp
ESTIMATE="packages ~15 s"

after_packages() {
  install -d -o 65534 -g 65534 -m 0755 "$ROOT/prometheus"
  # The web UI's time zone database (libjs-moment-timezone, 210 MB): the API
  # and the UI work without it, only its time zone picker does not.
  rm -rf "$ROOT/usr/share/javascript/moment-timezone/data"
}
