#!/usr/bin/env bash
# Installs everything Charon needs to build, run and test on a Debian 12 machine.
# Idempotent: every step checks first and is a quick no-op when its tool is already present.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.10"
# Must equal the wasm-bindgen crate version pinned in Cargo.toml / Cargo.lock.
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$ROOT/Cargo.toml")"
APT_PACKAGES=(crowdsec caddy chromium wrk systemd)
# `--test` (make test): also what only the tests need. PostgreSQL runs the fleet tests: each test
# starts its own server as user postgres on a loopback port, never the package's system service.
# iproute2 and curl: the fleet test puts each node and a scanner in a network namespace of its own.
if [ "${1:-}" = "--test" ]; then
  APT_PACKAGES+=(postgresql iproute2 curl)
fi

log() { printf '[setup] %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

export PATH="$HOME/.cargo/bin:$PATH"

# --- Debian packages -------------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  # crowdsec's post-install registers with the Central API unless this file exists and starts with a
  # comment line; offline that registration fails the whole install. Charon never uses /etc/crowdsec
  # (it generates its own config under its data dir), so this placeholder only unblocks the package.
  if [[ " ${missing[*]} " == *" crowdsec "* ]] && [ ! -e /etc/crowdsec/online_api_credentials.yaml ]; then
    as_root mkdir -p /etc/crowdsec
    printf '# placeholder written by charon scripts/setup.sh so the offline post-install succeeds\n' \
      | as_root tee /etc/crowdsec/online_api_credentials.yaml >/dev/null
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  # The package's own systemd units are not used: Charon supervises crowdsec and caddy itself.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# On a machine with systemd the packages start their own services (crowdsec's LAPI on :8080, Caddy
# on :80), which would collide with Charon's console and proxy: Charon runs both itself.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  units=(crowdsec caddy)
  # The package's own cluster only when this run installed it (never someone's existing database).
  if [[ " ${missing[*]:-} " == *" postgresql "* ]]; then units+=(postgresql); fi
  for unit in "${units[@]}"; do
    if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit" 2>/dev/null; then
      log "disabling the package's own $unit service (Charon supervises $unit itself)"
      as_root systemctl disable --now "$unit" || true
    fi
  done
fi

# --- Rust toolchain pieces -------------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (0.3.11 needs rustc 1.96)"
  cargo install "cargo-leptos@$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Without --locked: the CLI's own lock names a crate version the registry no longer has.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# --- npm: wasm-opt (binaryen 132) and the Playwright test runner --------------------------------
# Debian's binaryen 108 silently breaks the release wasm (hydration dies in the browser), so the
# build uses npm's binaryen, put first on PATH by the Makefile.
npm_install() {
  local dir="$1"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "npm ci in ${dir#$ROOT/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_install "$ROOT/tools"
npm_install "$ROOT/end2end"

log "ok"
