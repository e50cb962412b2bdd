# The README's two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# npm binaryen's wasm-opt must come before Debian's /usr/bin/wasm-opt (108 breaks hydration).
export PATH := $(CURDIR)/tools/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

SITE_ROOT := target/site
BIN := target/release/charon

.PHONY: setup setup-test build run test test-rust test-e2e check-wasm check-docker check-deploy bench bench-blocking clean

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

## Release build: the server binary and the hydrating WASM site (skipped when nothing it reads
## changed since the last one: scripts/build_if_changed.sh; CHARON_FORCE_BUILD=1 rebuilds).
build: setup
	scripts/build_if_changed.sh $(SITE_ROOT) $(BIN)

## Start Charon on 0.0.0.0:8080 with its data under ./data.
run: build
	CHARON_SITE_ROOT=$(SITE_ROOT) $(BIN) serve

## Every test: Rust unit and HTTP tests (the HTTP ones on SQLite and on PostgreSQL), then Playwright
## against the release build.
test: setup-test build check-docker check-deploy test-rust test-e2e

## The server's tests on SQLite, then its integration suite again with Charon's database on a
## PostgreSQL started for the run (skipped, saying so, when PostgreSQL is not installed).
test-rust:
	cargo test -p app --features ssr --lib
	cargo test -p server
	scripts/test-postgres.sh

test-e2e:
	cargo build -p capi-sim --bin capi-sim
	cd end2end && CI=1 E2E_CHARON_BIN=./$(BIN) npx playwright test

## Benchmarks (print numbers; not part of `make test`): the decision cache, the traffic history's
## cost per access-log line, the 100k-decision scale test on the real engine, then blocking end to end.
bench: setup
	cargo bench -p server --bench lookup -- --warm-up-time 1 --measurement-time 3
	cargo bench -p server --bench traffic -- --warm-up-time 1 --measurement-time 3
	cargo test -p server --test it scale -- --ignored --nocapture

bench-blocking: build
	python3 bench/forward_auth.py

check-docker:
	python3 scripts/check_dockerfile.py

## deploy/install.sh into a staging root, and `systemd-analyze verify` on the unit it installs.
check-deploy: build
	scripts/check_deploy.sh

check-wasm:
	python3 scripts/finish_site.py $(SITE_ROOT) target/release

clean:
	cargo clean
