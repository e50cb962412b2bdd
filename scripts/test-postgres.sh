#!/usr/bin/env bash
# The integration suite again with Charon's own database on PostgreSQL (issue "Fleet"): a cluster
# of Debian's `postgresql` made in a temp dir and started as user `postgres` on a loopback port
# (never a system service), handed to the tests as TEST_POSTGRES_URL; each test's app gets a
# database of its own. Stopped and removed afterwards, whatever the outcome. Without PostgreSQL
# installed (`scripts/setup.sh --test` installs it) it says so and does nothing.
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "[test-postgres] PostgreSQL is not installed: the suite ran on SQLite only" >&2
  exit 0
fi
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

dir=$(mktemp -d /tmp/charon-pg-suite-XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
chmod 700 "$dir"
password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
printf '%s\n' "$password" > "$dir/pwfile"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir/pwfile"
stop() {
  as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

as_postgres "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
rm -f "$dir/pwfile"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Every test's app keeps a pool open until the test binary ends: room for many connections.
as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=1000 -c shared_buffers=128MB -c fsync=off -c synchronous_commit=off" start >/dev/null
echo "[test-postgres] PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2

TEST_POSTGRES_URL="postgres://postgres:$password@127.0.0.1:$port" cargo test -p server --test it "$@"
