# shellcheck shell=bash disable=SC2034 # a recipe: variables read by e2e/images.sh
# The backup and restore Jobs' image, as the `tools` target of the
# repository's Dockerfile: the engines' dump tools from Debian
# (postgresql-client-15, mariadb-client, redis-tools; the Dockerfile takes
# pg_dump 18 from postgres:18, bookworm has 15, which dumps servers up to 15)
# and the release binary (SERVICEDB_BINARY) at /usr/local/bin/servicedb,
# USER 65532:65532, ENTRYPOINT ["/usr/local/bin/servicedb"], CMD ["backup"].
IMAGE=localhost/servicedb/servicedb-tools:dev
BINARY=$SERVICEDB_BINARY
BINARY_VAR=SERVICEDB_BINARY
PACKAGES="postgresql-client-15 mariadb-client redis-tools ca-certificates"
USER_ID=65532:65532
ENTRYPOINT='["/usr/local/bin/servicedb"]'
CMD='["backup"]'
ENV=(PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
ESTIMATE="packages ~30 s"

before_packages() {
  add_user nonroot 65532 /home/nonroot
}

after_packages() {
  install -m 0755 "$BINARY" "$ROOT/usr/local/bin/servicedb"
  check_libraries /usr/local/bin/servicedb
}
