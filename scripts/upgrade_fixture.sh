#!/usr/bin/env bash
# Writes the database a Charon release leaves behind, as SQL, for the upgrade test
# (server/tests/it/upgrade.rs starts the current code on it):
#
#   scripts/upgrade_fixture.sh BIN NAME      e.g. target/release/charon 0.1.0-fef2aa0
#
# Run it with the binary of the release being shipped, before the next one changes the schema,
# and commit server/tests/fixtures/upgrade-from-NAME.sql. It uses only what that release offers:
# its CLI (accounts, tokens, break glass) and its REST API (proxy hosts, allowlist, scoped rules).
set -euo pipefail
BIN="$(realpath "${1:?the charon binary of the release}")"
NAME="${2:?a name: version-commit}"
cd "$(dirname "$0")/.."
OUT="server/tests/fixtures/upgrade-from-$NAME.sql"
dir="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
export CHARON_DATA_DIR="$dir/data" CHARON_PROXY_ENABLED=false CHARON_CROWDSEC_PROMETHEUS=off \
  CHARON_CROWDSEC_LAPI_LISTEN=127.0.0.1:9 CHARON_LOG_LEVEL=warn
PASSWORD="upgrade fixture password"
printf '%s\n' "$PASSWORD" | "$BIN" admin create --username admin --password-stdin
printf '%s\n' "$PASSWORD" | "$BIN" admin create --username vera --password-stdin --role viewer
TOKEN="$("$BIN" admin token create --name fixture --role admin)"
"$BIN" unban 198.51.100.9 --allow-for 7d >/dev/null 2>&1
PORT=$((20000 + RANDOM % 10000))
CHARON_LISTEN="127.0.0.1:$PORT" "$BIN" serve 2>"$dir/serve.log" &
pid=$!
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
api() { curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
api -d '{"domain":"shop.example.com","upstream":"http://127.0.0.1:3000"}' "http://127.0.0.1:$PORT/api/v1/proxy-hosts" >/dev/null
api -d '{"value":"192.0.2.0/24","reason":"office"}' "http://127.0.0.1:$PORT/api/v1/cerberus/crowdsec/allowlist" >/dev/null
api -d '{"value":"203.0.113.0/24","sites":["shop.example.com"],"path_prefix":"/health","reason":"monitoring"}' \
  "http://127.0.0.1:$PORT/api/v1/cerberus/crowdsec/allowlist" >/dev/null
kill -TERM "$pid"
wait "$pid" || true
pid=""
{
  echo "-- Charon's database as release $NAME left it (scripts/upgrade_fixture.sh)."
  echo "-- password (admin, vera): $PASSWORD"
  echo "-- token (admin): $TOKEN"
  sqlite3 "$dir/data/charon.db" .dump
} > "$OUT"
echo "wrote $OUT"
