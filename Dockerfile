# Multi-stage: a static musl binary, then a distroless image with no shell,
# running as a numeric non-root user. Built in the kind e2e path
# (e2e/kind/run.sh); these CI machines have no Docker engine.
FROM docker.io/library/rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl -p servicedb \
 && cp target/x86_64-unknown-linux-musl/release/servicedb /servicedb

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /servicedb /servicedb
USER 65532:65532
ENTRYPOINT ["/servicedb"]
CMD ["run"]
