#!/usr/bin/env bash
# Thin wrapper around `charon diagnose`: LAPI, CAPI, console enrollment, heartbeat, configuration.
#   scripts/diagnose-crowdsec.sh [--json] [--data-dir DIR]
# DIAGNOSE_BIN picks the charon binary (CHARON_* names are reserved for its configuration).
# Works while the console is stopped. Exit status 1 when a check fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${DIAGNOSE_BIN:-}"
if [ -z "$bin" ]; then
  for candidate in "$here/target/release/charon" "$here/target/debug/charon" "$(command -v charon || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then bin="$candidate"; break; fi
  done
fi
if [ -z "$bin" ]; then
  echo "diagnose-crowdsec: no charon binary found (run 'make build' or set DIAGNOSE_BIN)" >&2
  exit 2
fi
args=(diagnose)
while [ $# -gt 0 ]; do
  case "$1" in
    --json) args+=(--json); shift ;;
    --data-dir) [ $# -ge 2 ] || { echo "diagnose-crowdsec: --data-dir needs a directory" >&2; exit 2; }
                args=(--data-dir "$2" "${args[@]}"); shift 2 ;;
    --data-dir=*) args=(--data-dir "${1#--data-dir=}" "${args[@]}"); shift ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "diagnose-crowdsec: unknown option $1" >&2; exit 2 ;;
  esac
done
CHARON_LOG_LEVEL="${CHARON_LOG_LEVEL:-error}" exec "$bin" "${args[@]}"
