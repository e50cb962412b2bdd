#!/usr/bin/env bash
# Installs a built Charon (`make build`) as a systemd service, idempotently:
#   /usr/local/bin/charon                 the binary (`charon serve` runs the console)
#   /usr/local/share/charon/site          the web UI's files
#   /usr/local/share/charon/country.mmdb  the IP-to-country database (CC0)
#   /etc/charon/charon.toml               configuration (written once; yours afterwards), root:charon 0640
#   /var/lib/charon                       everything Charon writes, charon:charon 0700
#   /etc/systemd/system/charon.service    the unit (deploy/charon.service)
# and a `charon` system user. Then `systemctl enable --now charon` when systemd runs.
#
#   sudo deploy/install.sh [--listen ADDR:PORT] [--root DIR] [--no-start]
#
# --root DIR installs under DIR (packaging, tests): no user is created, nothing is chowned or
# started. Upgrading is the same command with a newer build (see the README's "Upgrade").
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=""
LISTEN="127.0.0.1:8080"
START=1
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --listen) LISTEN="${2:?--listen needs ADDR:PORT}"; shift 2 ;;
    --no-start) START=0; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

BIN="${CARGO_TARGET_DIR:-target}/release/charon"
SITE="${CARGO_TARGET_DIR:-target}/site"
GEO="tools/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb"
for f in "$BIN" "$SITE/pkg" "$GEO"; do
  [ -e "$f" ] || { echo "install.sh: $f is missing; run 'make build' first" >&2; exit 1; }
done
if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run it as root (sudo), or with --root DIR" >&2
  exit 1
fi

# The user first: the files below are owned by it.
if [ -z "$ROOT" ] && ! id charon >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/charon --no-create-home --shell /usr/sbin/nologin --user-group charon
fi
own() { [ -z "$ROOT" ] && chown "$@" || true; }

install -d -m 0755 "$ROOT/usr/local/bin" "$ROOT/usr/local/share/charon" "$ROOT/usr/local/share/doc/charon" "$ROOT/etc/systemd/system"
# A running binary is replaced by a rename, never rewritten in place.
install -m 0755 "$BIN" "$ROOT/usr/local/bin/.charon.new"
mv -f "$ROOT/usr/local/bin/.charon.new" "$ROOT/usr/local/bin/charon"
rm -rf "$ROOT/usr/local/share/charon/site.new"
cp -R "$SITE" "$ROOT/usr/local/share/charon/site.new"
rm -rf "$ROOT/usr/local/share/charon/site"
mv "$ROOT/usr/local/share/charon/site.new" "$ROOT/usr/local/share/charon/site"
install -m 0644 "$GEO" "$ROOT/usr/local/share/charon/country.mmdb"
install -m 0644 README.md "$ROOT/usr/local/share/doc/charon/README.md"
install -m 0644 deploy/charon.service "$ROOT/etc/systemd/system/charon.service"

install -d -m 0700 "$ROOT/var/lib/charon"
own charon:charon "$ROOT/var/lib/charon"
install -d -m 0750 "$ROOT/etc/charon"
own root:charon "$ROOT/etc/charon"
CONF="$ROOT/etc/charon/charon.toml"
if [ ! -e "$CONF" ]; then
  umask 027
  cat > "$CONF" <<EOF
# Charon's configuration (every key and its default: README, "Configuration"). Written once by
# deploy/install.sh; edit it, then \`systemctl restart charon\`.

# The web console. Keep it on loopback and reach it through an SSH tunnel or a proxy host with
# TLS, or listen on all interfaces ("0.0.0.0:8080") behind a firewall you control.
listen = "$LISTEN"
data_dir = "/var/lib/charon"
site_root = "/usr/local/share/charon/site"
geoip_db = "/usr/local/share/charon/country.mmdb"

# Caddy serves your sites here (needs CAP_NET_BIND_SERVICE below 1024: the unit grants it).
proxy_listen = ":80"
EOF
  chmod 0640 "$CONF"
  own root:charon "$CONF"
fi

if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if [ "$START" = 1 ]; then
    systemctl enable charon.service
    # A running console restarts (the data plane keeps serving); a stopped one starts.
    systemctl restart charon.service
    systemctl --no-pager --lines=5 status charon.service || true
  fi
else
  echo "installed; systemd is not running here: start it with 'systemctl enable --now charon' on the target machine"
fi
