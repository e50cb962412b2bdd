#!/usr/bin/env bash
# `make build`, skipped when nothing it reads changed since the last successful build: the release
# binary and the site are kept with a digest of their inputs (every tracked and untracked file the
# build reads, as they are on disk, and the tool versions). `make run` on an up-to-date tree then
# starts at once instead of re-running wasm-bindgen and wasm-opt. Outside a git checkout, or with
# CHARON_FORCE_BUILD=1, it always builds.
set -euo pipefail
cd "$(dirname "$0")/.."
SITE_ROOT="$1"
BIN="$2"
STAMP="$(dirname "$BIN")/.charon-build-inputs"

inputs_digest() {
  {
    git ls-files -co --exclude-standard -- Cargo.toml Cargo.lock rust-toolchain.toml app frontend server/src server/Cargo.toml \
      server/build.rs migrations style public capi-sim/src capi-sim/Cargo.toml scripts/finish_site.py scripts/site-budget.json \
      2>/dev/null | LC_ALL=C sort | while IFS= read -r f; do
        [ -f "$f" ] && sha256sum "$f"
      done
    rustc --version 2>/dev/null || true
    cargo leptos --version 2>/dev/null || true
    wasm-opt --version 2>/dev/null || true
  } | sha256sum | cut -d' ' -f1
}

digest=""
if [ "${CHARON_FORCE_BUILD:-0}" != 1 ] && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  digest="$(inputs_digest)"
  if [ -x "$BIN" ] && [ -f "$SITE_ROOT/hash.txt" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$digest" ]; then
    echo "build: nothing changed since the last build ($STAMP); skipping it (CHARON_FORCE_BUILD=1 rebuilds)"
    exit 0
  fi
fi
rm -f "$STAMP"
# `charon --version` and the Security page name the commit the release was built from.
CHARON_BUILD_COMMIT="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
export CHARON_BUILD_COMMIT
cargo leptos build --release --precompress --split
python3 scripts/finish_site.py "$SITE_ROOT" "$(dirname "$BIN")"
if [ -n "$digest" ]; then
  echo "$digest" > "$STAMP"
fi
