#!/usr/bin/env python3
"""Static checks of the Dockerfile (no Docker engine runs on the build machines).

It must stay consistent with scripts/setup.sh and Cargo.toml (same cargo-leptos, the wasm-bindgen
CLI equal to the crate pin, npm binaryen instead of Debian's wasm-opt) and keep the runtime
promises: Debian bookworm-slim with crowdsec and caddy, the systemd layout (user `charon`, its data
in /var/lib/charon as the volume), port 8080, `charon serve` as in deploy/charon.service, SIGQUIT
as the stop signal (everything stops), and a health check on /health.
"""
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
docker = (root / "Dockerfile").read_text()
setup = (root / "scripts/setup.sh").read_text()
cargo = (root / "Cargo.toml").read_text()
problems = []


def need(cond, what):
    if not cond:
        problems.append(what)


leptos_setup = re.search(r'CARGO_LEPTOS_VERSION="([^"]+)"', setup).group(1)
leptos_docker = re.search(r"ARG CARGO_LEPTOS_VERSION=(\S+)", docker)
need(leptos_docker and leptos_docker.group(1) == leptos_setup,
     f"cargo-leptos version differs from scripts/setup.sh ({leptos_setup})")
pin = re.search(r'^wasm-bindgen = "=([0-9.]+)"', cargo, re.M).group(1)
wb_docker = re.search(r"ARG WASM_BINDGEN_VERSION=(\S+)", docker)
need(wb_docker and wb_docker.group(1) == pin, f"wasm-bindgen CLI must equal the crate pin {pin}")
need("tools/node_modules/.bin" in docker and "npm ci" in docker,
     "the builder must use npm binaryen's wasm-opt (tools/)")
need(re.search(r"apt-get install[^\n]*\bbinaryen\b", docker) is None,
     "Debian's binaryen (wasm-opt 108) must not be installed")
need("finish_site.py" in docker, "the builder must finish the site (hash list, the wasm's tables, its weight)")
stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", docker, re.M)
need(len(stages) >= 2, "multi-stage build expected")
need(stages and stages[-1][0] == "debian:bookworm-slim", "runtime stage must be debian:bookworm-slim")
runtime = docker.split("FROM debian:bookworm-slim", 1)[-1]
need(re.search(r"apt-get install[^\n]*\bcrowdsec\b", runtime) is not None, "runtime must install crowdsec")
need(re.search(r"apt-get install[^\n]*\bcaddy\b", runtime) is not None, "runtime must install caddy")
need("online_api_credentials.yaml" in runtime, "crowdsec's offline post-install needs the placeholder")
user = re.findall(r"^USER\s+(\S+)", runtime, re.M)
need(user and user[-1] not in ("root", "0"), "runtime must run as a non-root user")
need(user and user[-1] == "charon", "runtime must run as the user `charon`, as the systemd unit does")
need(re.search(r'^VOLUME\s+\["/var/lib/charon"\]', runtime, re.M) is not None, "VOLUME /var/lib/charon expected (the unit's StateDirectory)")
need(re.search(r"^STOPSIGNAL\s+SIGQUIT", runtime, re.M) is not None, "STOPSIGNAL SIGQUIT expected (stop the data plane too)")
unit = (root / "deploy/charon.service").read_text()
need(re.search(r"^ExecStart=/usr/local/bin/charon serve$", unit, re.M) is not None, "the unit must run `charon serve` too")
need("StateDirectory=charon" in unit and "KillSignal=SIGQUIT" in unit, "the unit's data dir and stop signal must match the image")
need(re.search(r"^EXPOSE\s+8080\b", runtime, re.M) is not None, "EXPOSE 8080 expected")
need(re.search(r'^CMD\s+\["charon",\s*"serve"\]', runtime, re.M) is not None, 'CMD ["charon","serve"] expected')
need(re.search(r"apt-get install[^\n]*\btini\b", runtime) is not None
     and re.search(r'^ENTRYPOINT\s+\["/usr/bin/tini",\s*"--"\]', runtime, re.M) is not None,
     "tini must be PID 1 (Charon would otherwise leave orphaned plugin processes as zombies)")
need(re.search(r"^HEALTHCHECK[\s\S]*?/health", runtime, re.M) is not None, "HEALTHCHECK on /health expected")
need("CHARON_DATA_DIR=/var/lib/charon" in runtime, "CHARON_DATA_DIR must point at the volume")
for path in re.findall(r"^COPY\s+(?!--from)(\S+)", docker, re.M):
    if path != ".":
        need((root / path).exists(), f"COPY source {path} does not exist")

if problems:
    for p in problems:
        print(f"Dockerfile: {p}", file=sys.stderr)
    sys.exit(1)
print("Dockerfile: ok")
