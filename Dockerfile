# Multi-stage: a static musl binary, then a distroless image with no shell,
# running as a numeric non-root user (the default, last target). The `tools`
# target adds the engines' dump tools for backup and restore Jobs:
#   docker build --target tools -t servicedb-tools .
# Built in the kind e2e path (e2e/kind/run.sh); these CI machines have no
# Docker engine.
FROM docker.io/library/rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools cmake && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl -p servicedb \
 && cp target/x86_64-unknown-linux-musl/release/servicedb /servicedb

# The newest pg_dump dumps every older server; MariaDB's and Redis's
# clients from Debian.
FROM docker.io/library/postgres:18-bookworm AS tools
RUN apt-get update && apt-get install -y --no-install-recommends mariadb-client redis-tools \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /servicedb /usr/local/bin/servicedb
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/servicedb"]
CMD ["backup"]

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /servicedb /servicedb
USER 65532:65532
ENTRYPOINT ["/servicedb"]
CMD ["run"]
