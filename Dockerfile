# syntax=docker/dockerfile:1
# Multi-stage build of Charon: the same toolchain and steps as scripts/setup.sh + `make build`.

FROM rust:1.95-bookworm AS builder
ARG CARGO_LEPTOS_VERSION=0.3.10
ARG WASM_BINDGEN_VERSION=0.2.130
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm python3 \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add wasm32-unknown-unknown \
 && cargo install cargo-leptos@${CARGO_LEPTOS_VERSION} --locked --features no_downloads \
 && cargo install wasm-bindgen-cli --version ${WASM_BINDGEN_VERSION}
WORKDIR /src
# npm binaryen's wasm-opt: Debian's binaryen 108 breaks hydration.
COPY tools/package.json tools/package-lock.json tools/
RUN cd tools && npm ci --no-audit --no-fund
ENV PATH=/src/tools/node_modules/.bin:$PATH
COPY . .
RUN cargo leptos build --release --precompress --split \
 && python3 scripts/finish_site.py target/site target/release

FROM debian:bookworm-slim AS runtime
# crowdsec's post-install registers online unless this file exists; Charon generates its own
# configuration under the data dir and never uses /etc/crowdsec.
RUN mkdir -p /etc/crowdsec \
 && printf '# placeholder so the offline post-install succeeds\n' > /etc/crowdsec/online_api_credentials.yaml \
 && apt-get update \
 && apt-get install -y --no-install-recommends crowdsec caddy ca-certificates curl tini \
 && rm -rf /var/lib/apt/lists/*
# The same layout as deploy/install.sh + deploy/charon.service: the user `charon`, its data in
# /var/lib/charon (0700, the volume), the release under /usr/local.
RUN useradd --system --home-dir /var/lib/charon --no-create-home --shell /usr/sbin/nologin --user-group charon \
 && install -d -m 0700 -o charon -g charon /var/lib/charon \
 && install -d -m 0755 /usr/local/share/charon
COPY --from=builder /src/target/release/charon /usr/local/bin/charon
COPY --from=builder /src/target/site /usr/local/share/charon/site
# CC0 IP-to-country database for the Live Decisions "Country" column.
COPY --from=builder /src/tools/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb /usr/local/share/charon/country.mmdb
WORKDIR /var/lib/charon
ENV CHARON_LISTEN=0.0.0.0:8080 \
    CHARON_DATA_DIR=/var/lib/charon \
    CHARON_SITE_ROOT=/usr/local/share/charon/site \
    CHARON_GEOIP_DB=/usr/local/share/charon/country.mmdb
USER charon
VOLUME ["/var/lib/charon"]
EXPOSE 8080 80 443
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health || exit 1
# `docker stop` sends SIGQUIT: the console stops Caddy and the bouncer too (as `systemctl stop`).
STOPSIGNAL SIGQUIT
# tini as PID 1 reaps what is orphaned in the container (a crashed engine's notification plugins
# are killed by Charon, then reparented to PID 1) and passes the stop signal on to Charon.
ENTRYPOINT ["/usr/bin/tini","--"]
CMD ["charon","serve"]
