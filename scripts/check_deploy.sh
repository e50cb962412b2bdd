#!/usr/bin/env bash
# `make check-deploy`: deploy/install.sh into a staging root (no user, nothing started), the layout
# and modes it promises, the installed binary answering `--version`, and `systemd-analyze verify`
# on the installed unit (its ExecStart pointed at the staged binary: verify checks it exists).
set -euo pipefail
cd "$(dirname "$0")/.."
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
fail() { echo "check-deploy: $*" >&2; exit 1; }

deploy/install.sh --root "$stage" >/dev/null
# Twice: it is idempotent, and keeps a configuration that exists.
echo '# edited by the operator' >> "$stage/etc/charon/charon.toml"
deploy/install.sh --root "$stage" --listen 0.0.0.0:9999 >/dev/null
grep -q 'edited by the operator' "$stage/etc/charon/charon.toml" || fail "a second install rewrote the configuration"
grep -q '^listen = "127.0.0.1:8080"' "$stage/etc/charon/charon.toml" || fail "the configuration's listen address is not the default"

mode() { stat -c %a "$stage/$1"; }
[ "$(mode var/lib/charon)" = 700 ] || fail "/var/lib/charon must be 0700, is $(mode var/lib/charon)"
[ "$(mode etc/charon)" = 750 ] || fail "/etc/charon must be 0750"
[ "$(mode etc/charon/charon.toml)" = 640 ] || fail "charon.toml must be 0640"
[ "$(mode usr/local/bin/charon)" = 755 ] || fail "the binary must be 0755"
for f in usr/local/share/charon/site/pkg usr/local/share/charon/country.mmdb etc/systemd/system/charon.service usr/local/share/doc/charon/README.md; do
  [ -e "$stage/$f" ] || fail "$f missing"
done
"$stage/usr/local/bin/charon" --version | grep -q '^charon ' || fail "the installed binary does not answer --version"

# The configuration it wrote is one Charon accepts (unknown keys are refused).
probe="$("$stage/usr/local/bin/charon" --config "$stage/etc/charon/charon.toml" --data-dir "$stage/probe" admin token list 2>&1)" \
  || fail "the written charon.toml is refused: $probe"

command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (scripts/setup.sh installs the systemd package)"
unit="$stage/verify/charon.service"
mkdir -p "$(dirname "$unit")"
sed "s#^ExecStart=/usr/local/bin/charon#ExecStart=$stage/usr/local/bin/charon#" "$stage/etc/systemd/system/charon.service" > "$unit"
out="$(systemd-analyze verify "$unit" 2>&1)" || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
echo "deploy: ok (install.sh layout and modes, systemd-analyze verify)"
