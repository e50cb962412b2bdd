#!/usr/bin/env python3
"""Benchmarks of real-time blocking, on loopback, with the release build:

1. wrk against one Caddy (the product's) serving three hosts to the same null upstream:
   (a) no forward_auth, (b) forward_auth to a null responder that always answers 200 (the
   mechanism's own cost), (c) forward_auth to Charon's bouncer holding 100 000 decisions.
   Requests/s, p50 and p99 for each, and the ratios c/b and c/a.
2. wrk against the bouncer's own /bouncer/check (its p50/p99).
3. Detection → enforcement over 20 attacks (a CVE probe from its own 127.0.1.x address, then
   requests until the first 403): p50 and max.
4. Manual ban (REST answered) → first 403, over 10 bans: p50 and max.

Usage: python3 bench/forward_auth.py [--bin target/release/charon] [--duration 10]
Everything runs on 127.0.0.0/8 and is stopped at the end. Prints a Markdown report.
"""
import argparse
import http.client
import http.cookiejar
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

P = dict(console=18190, lapi=18195, proxy=18198, bouncer=18191, up=18192, nullauth=18193)


class UnixHTTPConnection(http.client.HTTPConnection):
    """Caddy's admin API listens on a Unix socket inside Charon's data dir."""

    def __init__(self, path):
        super().__init__("")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def caddy_admin(data, method, path, body=None):
    conn = UnixHTTPConnection(os.path.join(data, "caddy", "admin.sock"))
    conn.request(method, path, body=body, headers={"Content-Type": "application/json", "Host": ""})
    res = conn.getresponse()
    text = res.read()
    assert 200 <= res.status < 300, (path, res.status, text)
    return json.loads(text) if text else None


def wait_http(url, timeout=30):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout} s")


class Console:
    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def call(self, method, path, body=None, form=None):
        data, headers = None, {}
        if body is not None:
            data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
        if form is not None:
            data = "&".join(f"{k}={urllib.parse.quote(v)}" for k, v in form.items()).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        # Like a browser on the console's pages: cookie mutations must say where they come from.
        headers["Origin"] = self.base
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=120) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def status_from(src, path, host):
    """One request with the raw path from a socket bound to `src`; returns the HTTP status."""
    s = socket.create_connection(("127.0.0.1", P["proxy"]), timeout=5, source_address=(src, 0))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench/1.0\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return int(data.split()[1])


def until(src, host, code, timeout=30):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if status_from(src, "/", host) == code:
            return time.perf_counter() - t0
        time.sleep(0.01)
    raise SystemExit(f"{src} never got {code}")


def wrk(url, host, duration, extra=(), conns=(2, 32)):
    cmd = ["wrk", f"-t{conns[0]}", f"-c{conns[1]}", f"-d{duration}s", "--latency", "-H", f"Host: {host}", *extra, url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return dict(rps=rps, p50=pct(50), p99=pct(99), errors=int(non2xx.group(1)) if non2xx else 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/charon")
    ap.add_argument("--duration", type=int, default=10)
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="charon-bench-")
    procs = []
    env = dict(os.environ,
               CHARON_LISTEN=f"127.0.0.1:{P['console']}", CHARON_DATA_DIR=data, CHARON_SITE_ROOT="target/site",
               CHARON_LOG_LEVEL="warn", CHARON_CROWDSEC_LAPI_LISTEN=f"127.0.0.1:{P['lapi']}",
               CHARON_CROWDSEC_PROMETHEUS="off", CHARON_PROXY_LISTEN=f"127.0.0.1:{P['proxy']}",
               CHARON_BOUNCER_LISTEN=f"127.0.0.1:{P['bouncer']}")
    try:
        # The null upstream and the null auth responder: a second, plain Caddy.
        null_cfg = {"admin": {"disabled": True}, "apps": {"http": {"servers": {
            "up": {"listen": [f"127.0.0.1:{P['up']}"], "routes": [{"handle": [{"handler": "static_response", "status_code": 200, "body": "ok"}]}]},
            "auth": {"listen": [f"127.0.0.1:{P['nullauth']}"], "routes": [{"handle": [{"handler": "static_response", "status_code": 200,
                                                                                      "headers": {"X-Crowdsec-Decision": ["allow"]}}]}]}}}}}
        null_path = os.path.join(data, "null-caddy.json")
        with open(null_path, "w") as f:
            json.dump(null_cfg, f)
        procs.append(subprocess.Popen(["caddy", "run", "--config", null_path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      env=dict(os.environ, HOME=data, XDG_DATA_HOME=data, XDG_CONFIG_HOME=data)))
        procs.append(subprocess.Popen([args.bin, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "console.log"), "w")))
        wait_http(f"http://127.0.0.1:{P['console']}/health")
        c = Console(f"http://127.0.0.1:{P['console']}")
        pw = "benchmark password 123"
        with open(os.path.join(data, "setup-code")) as f:
            code = f.read().strip()
        c.call("POST", "/setup", form={"setup_code": code, "username": "admin", "password": pw, "password_confirm": pw})
        st, body = c.call("POST", "/api/v1/cerberus/crowdsec/start")
        assert st == 200, body
        for host, protect in [("a.localhost", False), ("c.localhost", True)]:
            st, body = c.call("POST", "/api/v1/proxy-hosts", {"domain": host, "upstream": f"http://127.0.0.1:{P['up']}", "protect": protect})
            assert st == 201, body
        # (b): a copy of c's route whose forward_auth goes to the null responder, added to the same
        # Caddy; (d): one whose forward_auth reaches the same bouncer over loopback TCP instead of
        # its Unix socket (what Charon configures).
        routes = caddy_admin(data, "GET", "/config/apps/http/servers/charon/routes")
        c_route = next(r for r in routes if r.get("match", [{}])[0].get("host") == ["c.localhost"])
        socket_dial = "unix/" + os.path.abspath(os.path.join(data, "bouncer", "check.sock"))
        assert socket_dial in json.dumps(c_route), "Charon's forward_auth dials the bouncer's socket"
        for k, dial in [("b", f"127.0.0.1:{P['nullauth']}"), ("d", f"127.0.0.1:{P['bouncer']}")]:
            route = json.loads(json.dumps(c_route).replace("c.localhost", f"{k}.localhost").replace(socket_dial, dial))
            caddy_admin(data, "PUT", "/config/apps/http/servers/charon/routes/0", json.dumps(route))
            caddy_admin(data, "POST", "/config/apps/http/servers/charon/automatic_https/skip", f'"{k}.localhost"')
        for k in "abcd":
            st = status_from("127.0.0.1", "/", f"{k}.localhost")
            if st != 200:
                out = subprocess.run(["curl", "-sv", "-H", f"Host: {k}.localhost", f"http://127.0.0.1:{P['proxy']}/"], capture_output=True, text=True)
                raise SystemExit(f"{k}.localhost answered {st}: {out.stdout} {out.stderr}")

        # 100 000 decisions (ranges and addresses outside 127/8), imported by cscli.
        csv = os.path.join(data, "decisions.csv")
        with open(csv, "w") as f:
            f.write("duration,scope,value,reason,type\n")
            for i in range(100_000):
                if i % 10 == 0:
                    f.write(f"24h,Range,{11 + (i >> 16) % 200}.{(i >> 8) & 255}.{i & 255}.0/24,bench,ban\n")
                else:
                    f.write(f"24h,Ip,{11 + (i >> 24) % 200}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255},bench,ban\n")
        cfg = os.path.join(data, "crowdsec", "config", "config.yaml")
        t0 = time.time()
        for attempt in range(3):
            r = subprocess.run(["cscli", "-c", cfg, "decisions", "import", "-i", csv], capture_output=True, text=True)
            if r.returncode == 0:
                break
            assert "database is locked" in r.stderr, r.stderr
        stats_url = f"http://127.0.0.1:{P['bouncer']}/bouncer/stats"
        while json.load(urllib.request.urlopen(stats_url))["decisions"] < 99_000:
            assert time.time() - t0 < 300, "the bouncer never received the decisions"
            time.sleep(1)
        loaded = json.load(urllib.request.urlopen(stats_url))["decisions"]
        print(f"# forward-auth benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, loopback)\n")
        print(f"decisions in the bouncer: {loaded} (import + sync {time.time() - t0:.0f} s)\n")

        det = []
        for i in range(20):
            src = f"127.0.1.{i + 1}"
            t0 = time.perf_counter()
            assert status_from(src, "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd", "c.localhost") != 403
            until(src, "c.localhost", 403)
            det.append(time.perf_counter() - t0)
        print(f"detection → first 403 over 20 attacks: p50 {statistics.median(det):.2f} s, max {max(det):.2f} s\n")

        ban = []
        for i in range(10):
            src = f"127.0.2.{i + 1}"
            assert status_from(src, "/", "c.localhost") == 200
            st, body = c.call("POST", "/api/v1/cerberus/crowdsec/decisions", {"value": src, "duration": "1h", "reason": "bench"})
            assert st == 201, body
            ban.append(until(src, "c.localhost", 403))
        print(f"manual ban (REST answered) → first 403 over 10 bans: p50 {statistics.median(ban) * 1000:.1f} ms, max {max(ban) * 1000:.1f} ms\n")
        check_url = f"http://127.0.0.1:{P['bouncer']}/bouncer/check"
        one = wrk(check_url, "bouncer", args.duration, ["-H", "X-Forwarded-For: 203.0.113.77"], conns=(1, 1))
        sat = wrk(check_url, "bouncer", args.duration, ["-H", "X-Forwarded-For: 203.0.113.77"])
        print(f"bouncer /bouncer/check alone (100k decisions): one connection {one['rps']:.0f} req/s, p50 {one['p50']:.3f} ms, "
              f"p99 {one['p99']:.3f} ms; saturated (-t2 -c32) {sat['rps']:.0f} req/s, p50 {sat['p50']:.3f} ms, p99 {sat['p99']:.3f} ms\n")
        url = f"http://127.0.0.1:{P['proxy']}/"
        runs = {"a": [], "b": [], "c": [], "d": []}
        # ABCD then DCBA: CrowdSec parses the access log of every run in the background, so later
        # runs share the CPU with a growing backlog; the mirrored order gives each host the same.
        for order in ("abcd", "dcba"):
            for k in order:
                runs[k].append(wrk(url, f"{k}.localhost", args.duration))
        res = {k: dict(rps=statistics.mean(r["rps"] for r in v), p50=statistics.mean(r["p50"] for r in v),
                       p99=statistics.mean(r["p99"] for r in v), errors=sum(r["errors"] for r in v)) for k, v in runs.items()}
        names = {"a": "(a) no forward_auth", "b": "(b) forward_auth → null responder (TCP)",
                 "c": "(c) forward_auth → Charon bouncer over its Unix socket, 100k decisions",
                 "d": "(d) forward_auth → Charon bouncer over loopback TCP, 100k decisions"}
        print(f"wrk -t2 -c32 -d{args.duration}s, rounds in the order a b c d d c b a, mean of the two:\n")
        print("| host | requests/s | p50 ms | p99 ms | non-2xx |\n|---|---:|---:|---:|---:|")
        for k in "abcd":
            r = res[k]
            print(f"| {names[k]} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} |")
        print(f"\nc/a = {res['c']['rps'] / res['a']['rps']:.3f}   d/a = {res['d']['rps'] / res['a']['rps']:.3f}   "
              f"b/a = {res['b']['rps'] / res['a']['rps']:.3f}   c/d = {res['c']['rps'] / res['d']['rps']:.3f}\n")
    finally:
        for pid_file in ["caddy/caddy.pid", "bouncer/bouncer.pid"]:
            try:
                os.kill(int(open(os.path.join(data, pid_file)).read().strip()), signal.SIGTERM)
            except Exception:
                pass
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
