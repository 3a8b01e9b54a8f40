# servicedb: `make demo` and `make test` work on a fresh Debian machine.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help deps s3 lint unit engines fuzz e2e test bench bench-scale demo demo-down crds plugin

help: ## this list
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: ## install missing Debian packages (database servers, exporters, prometheus, zstd, openssl, curl)
	@e2e/deps.sh

lint: ## rustfmt and clippy, warnings are errors
	@echo "[lint] cargo fmt --check; cargo clippy -D warnings (the first build of the workspace takes ~10 min on 2 cores, later ones seconds)"
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings

unit: ## unit tests: builders, validation, CEL rules, CRD drift, CLI, the reconcile against a fake API, the fuzz inputs replayed, the e2e harness's audit reader, the scale bench's parts, the node's cleanup
	@echo "[unit] cargo test (library and CRD tests)"
	$(CARGO) test --quiet --lib --test crd --test cli --test reconcile_api --test fuzz_inputs
	$(CARGO) test --quiet -p servicedb-e2e
	$(CARGO) test --quiet -p servicedb-bench-scale
	@echo "[unit] the node's iptables undo; a node without its binaries says what is missing"
	python3 e2e/node/test_iptables_diff.py
	@out=$$(SERVICEDB_CACHE=/nonexistent/servicedb-e2e e2e/node.sh up 2>&1) && { echo "node.sh up started without binaries"; exit 1; }; \
	  echo "$$out" | grep -q "missing: binary .*/kubelet (run: e2e/tools.sh node)" || { echo "$$out"; exit 1; }

s3: ## build versitygw, the S3-compatible server the backup tests use (cached)
	@e2e/tools.sh versitygw

engines: deps s3 ## engine and backup tests against real PostgreSQL, MariaDB, Redis and S3 on loopback
	@echo "[engines] cargo test against real PostgreSQL, MariaDB, Redis and versitygw (S3)"
	$(CARGO) test --quiet --test postgres_engine --test reconcile_postgres --test mariadb_engine --test redis_engine --test backup --test restore_safety --test exporters --test alerts --test plugin_clients --test tls
	@echo "[engines] the launchers of servicedb-test-support, and the e2e stand-ins built on them"
	$(CARGO) test --quiet -p servicedb-test-support
	$(CARGO) test --quiet -p servicedb-e2e -- --ignored
	$(CARGO) test --quiet -p servicedb-bench-scale -- --ignored

fuzz: ## fuzz every parser of user input with libFuzzer (nightly), FUZZ_SECONDS each (default 20; CI's bounded run)
	FUZZ_SECONDS="$(FUZZ_SECONDS)" fuzz/run.sh

e2e: deps ## end-to-end suite on a local control plane (builds it once, cached)
	@echo "[e2e] local control plane + suite"
	e2e/run.sh

test: lint unit engines fuzz e2e ## every test: lint, unit, engines, fuzzing (20 s a target), end to end

bench: ## backup throughput vs pg_dump | zstd, and peak RSS (figures, not pass/fail)
	bench/backup.sh

bench-scale: ## the operator at N=100 and 1,000 ServiceDatabases on kwok (N=10000 on demand): time to Ready vs a bare client, idle API requests, RSS, latency, restart
	N="$(N)" bench/scale.sh

demo: ## control plane + real node, the operator in a pod (helm), a real PostgreSQL pod, a client let in and one refused
	e2e/demo.sh

demo-down: ## stop the demo: pods, node, control plane; then check nothing is left
	e2e/cluster.sh down
	e2e/node.sh leftovers

plugin: ## build the kubectl plugin (kubectl servicedb ...) and its completion helper into target/release; copy both onto your PATH
	$(CARGO) build --release --bin kubectl-servicedb
	target/release/kubectl-servicedb completion kubectl > target/release/kubectl_complete-servicedb
	chmod +x target/release/kubectl_complete-servicedb
	@echo "install: cp target/release/kubectl-servicedb target/release/kubectl_complete-servicedb ~/.local/bin/  (any directory on the PATH)"

crds: ## regenerate crds/ and the chart's copy from the code
	$(CARGO) run --quiet -- crd > crds/servicedb.dev.yaml
	cp crds/servicedb.dev.yaml charts/servicedb/crds/
