import { defineConfig, devices } from "@playwright/test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

// The suite runs against the RELEASE build that `make run` serves (a broken wasm-opt only shows
// in a browser), with a fresh data dir so it starts at first-run setup. Debian's Chromium is used
// directly: this machine cannot download browsers.
const PORT = Number(process.env.E2E_PORT ?? 18080);
const BASE_URL = `http://127.0.0.1:${PORT}`;
const SERVER_BIN = process.env.E2E_CHARON_BIN ?? "./target/release/charon";
const CAPI_PORT = Number(process.env.E2E_CAPI_PORT ?? 18099);
const IDP_PORT = Number(process.env.E2E_IDP_PORT ?? 18097);
process.env.E2E_CAPI_PORT = String(CAPI_PORT);
const DATA_DIR =
  process.env.E2E_DATA_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "charon-e2e-"));
process.env.E2E_DATA_DIR = DATA_DIR;

const chromium = {
  ...devices["Desktop Chrome"],
  launchOptions: {
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  },
};

export default defineConfig({
  testDir: "./tests",
  timeout: 90_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [["list"], ["./failure-summary.ts"]],
  outputDir: "test-results",
  globalTeardown: "./teardown.ts",
  // `page.request` calls share the page's session cookie; like the browser's own requests they
  // say where they come from (the console refuses cookie mutations that do not).
  use: { baseURL: BASE_URL, trace: "retain-on-failure", extraHTTPHeaders: { Origin: BASE_URL } },
  projects: [
    // Creates the administrator and a viewer on the fresh data dir; the others depend on it.
    { name: "setup", testMatch: /first-run\.setup\.ts/, use: chromium },
    {
      name: "chromium-js",
      testMatch: /.*\.spec\.ts/,
      dependencies: ["setup"],
      use: chromium,
    },
    {
      name: "chromium-nojs",
      testMatch: /.*\.spec\.ts/,
      dependencies: ["setup"],
      use: { ...chromium, javaScriptEnabled: false },
    },
  ],
  webServer: [
  // CrowdSec's Central API, simulated (built by `cargo test`, which `make test` runs first).
  {
    command: `${process.env.E2E_CAPI_SIM_BIN ?? "./target/debug/capi-sim"} 127.0.0.1:${CAPI_PORT}`,
    cwd: "..",
    url: `http://127.0.0.1:${CAPI_PORT}/health`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: "ignore",
    stderr: "pipe",
  },
  // An OpenID Connect provider of the suite's own (single sign-on).
  {
    command: `node oidc-idp.mjs ${IDP_PORT}`,
    url: `http://127.0.0.1:${IDP_PORT}/health`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: "ignore",
    stderr: "pipe",
  },
  {
    // The console's stderr also goes to <data>/console.log, which globalTeardown reads: a panic
    // anywhere in the run (even in a detached SSR task that fails no request) fails the suite.
    command: `bash -c 'exec ${SERVER_BIN} 2> >(tee -a "$CHARON_DATA_DIR/console.log" >&2)'`,
    cwd: "..",
    url: `${BASE_URL}/health`,
    reuseExistingServer: false,
    timeout: 60_000,
    env: {
      CHARON_LISTEN: `127.0.0.1:${PORT}`,
      CHARON_DATA_DIR: DATA_DIR,
      CHARON_SITE_ROOT: "target/site",
      CHARON_LOG_LEVEL: "warn",
      // A panic's log names the functions it went through.
      RUST_BACKTRACE: "1",
      // The real engine, on ports of its own so a running Charon on this machine is not disturbed.
      CHARON_CROWDSEC_LAPI_LISTEN: `127.0.0.1:${Number(process.env.E2E_LAPI_PORT ?? 18085)}`,
      CHARON_CROWDSEC_PROMETHEUS: "off",
      // The data plane (Caddy + bouncer) on high loopback ports; globalTeardown stops it (it
      // outlives the console by design).
      CHARON_PROXY_LISTEN: `127.0.0.1:${Number(process.env.E2E_PROXY_PORT ?? 18088)}`,
      CHARON_BOUNCER_LISTEN: `127.0.0.1:${Number(process.env.E2E_BOUNCER_PORT ?? 18081)}`,
      CHARON_CAPI_URL: `http://127.0.0.1:${CAPI_PORT}/`,
      // The fleet listener (the Nodes page's join command names it).
      CHARON_FLEET_LISTEN: `127.0.0.1:${Number(process.env.E2E_FLEET_PORT ?? 18443)}`,
      CHARON_FLEET_URL: `https://127.0.0.1:${Number(process.env.E2E_FLEET_PORT ?? 18443)}`,
      CHARON_CAPI_TIMEOUT_SECS: "2",
      CHARON_OIDC_ISSUER: `http://127.0.0.1:${IDP_PORT}`,
      CHARON_OIDC_CLIENT_ID: "charon-e2e",
      CHARON_OIDC_CLIENT_SECRET: "e2e-client-secret",
      CHARON_OIDC_ROLE_MAP: "oncall=operator",
      CHARON_OIDC_LABEL: "E2E IdP",
    },
    stdout: "pipe",
    stderr: "pipe",
  },
  ],
});
