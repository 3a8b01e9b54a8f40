# shellcheck shell=bash disable=SC2034 # a recipe: variables read by e2e/images.sh
# The operator, as the runtime target of the repository's Dockerfile
# (distroless static, nonroot): here minbase + ca-certificates and the
# release binary (SERVICEDB_BINARY, default target/release/servicedb) at
# /servicedb, USER 65532:65532, ENTRYPOINT ["/servicedb"], CMD ["run"].
IMAGE=localhost/servicedb/servicedb:dev
BINARY=$SERVICEDB_BINARY
BINARY_VAR=SERVICEDB_BINARY
PACKAGES="ca-certificates"
USER_ID=65532:65532
ENTRYPOINT='["/servicedb"]'
CMD='["run"]'
ENV+=(SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt)
ESTIMATE="packages ~10 s"

before_packages() {
  add_user nonroot 65532 /home/nonroot
}

after_packages() {
  install -m 0755 "$BINARY" "$ROOT/servicedb"
  check_libraries /servicedb
}
