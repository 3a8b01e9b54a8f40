# shellcheck shell=bash disable=SC2034 # a recipe: variables read by e2e/images.sh
# The test client pods of the e2e suite: psql/pg_isready (15), the mariadb
# client, redis-cli, curl, nc (netcat-openbsd: `nc -z` works, busybox's does
# not), host/dig/nslookup, as the non-root user 65532. Its default command
# idles until SIGTERM (see idle); `/bin/sleep infinity` works too but, as
# PID 1, ignores SIGTERM and holds a pod's deletion for its grace period.
IMAGE=localhost/servicedb/client:bookworm
PACKAGES="postgresql-client-15 mariadb-client redis-tools curl netcat-openbsd bind9-host bind9-dnsutils ca-certificates"
USER_ID=65532:65532
CMD='["/usr/local/bin/idle"]'
ENV=(PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/nonroot LANG=C.UTF-8)
WORKDIR=/home/nonroot
ESTIMATE="packages ~30 s"

before_packages() {
  add_user nonroot 65532 /home/nonroot /bin/bash
  install -d -o 65532 -g 65532 -m 0755 "$ROOT/home/nonroot"
}

after_packages() {
  put idle /usr/local/bin/idle
}
