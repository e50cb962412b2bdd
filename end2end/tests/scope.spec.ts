import { test, expect } from "@playwright/test";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { jsEnabled, login, ready, request } from "./helpers";

// A false positive on one site only: "Unban and allow … only on some sites" from a Live Decisions
// row lets the address through on that site while the decision keeps blocking it elsewhere.
test.afterEach(async ({ page }) => {
  await page.request.post("/api/v1/cerberus/crowdsec/stop");
});

test("unban and allow on one site only: that site serves the address, the others still refuse it", async ({ page }, info) => {
  test.setTimeout(120_000);
  const js = jsEnabled(info);
  const address = js ? "127.0.0.21" : "127.0.0.22";
  const [siteA, siteB] = js ? ["scope-a-js.localhost", "scope-b-js.localhost"] : ["scope-a-nojs.localhost", "scope-b-nojs.localhost"];
  const upstream = http.createServer((_, res) => res.end("hello from upstream"));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const hostIds: number[] = [];
  try {
    await login(page, info);
    expect((await page.request.post("/api/v1/cerberus/crowdsec/start")).status()).toBe(200);
    for (const domain of [siteA, siteB]) {
      const created = await page.request.post("/api/v1/proxy-hosts", { data: { domain, upstream: `http://127.0.0.1:${upstreamPort}` } });
      expect(created.status()).toBe(201);
      hostIds.push((await created.json()).id);
      await expect(async () => expect(await request(address, domain, "/")).toBe(200)).toPass({ timeout: 15_000 });
    }
    const ban = await page.request.post("/api/v1/cerberus/crowdsec/decisions", { data: { value: address, duration: "1h", reason: "e2e scope" } });
    expect(ban.status()).toBe(201);
    for (const domain of [siteA, siteB]) {
      await expect(async () => expect(await request(address, domain, "/")).toBe(403)).toPass({ timeout: 10_000 });
    }

    // The console's copy of the decisions follows the bouncer's change feed and can be a poll
    // behind the bouncer that already enforces the ban: a page rendered in that moment is reloaded.
    const row = page.locator(`tr[data-testid="decision-row"][data-value="${address}"]`).first();
    await expect(async () => {
      await page.goto(`/security/decisions?q=${address}`);
      await ready(page, info);
      await expect(row.getByTestId("scope")).toHaveText("all sites", { timeout: 1_000 });
    }).toPass({ timeout: 15_000 });
    const form = row.getByTestId("unban-allow-form");
    await form.getByTestId("allow-scope-choice").locator("summary").click();
    await form.getByLabel("Only on these sites").fill(siteB);
    await form.getByTestId("unban-allow").click();
    if (js) {
      await expect(page.getByTestId("unban-allow-done")).toContainText(`still apply elsewhere; allowed on ${siteB}`);
    }
    await expect(async () => expect(await request(address, siteB, "/")).toBe(200)).toPass({ timeout: 10_000 });
    expect(await request(address, siteA, "/")).toBe(403);

    // The decision is still listed; the allowlist shows the exception with its site and time.
    await page.goto(`/security/decisions?q=${address}`);
    await ready(page, info);
    await expect(page.locator(`tr[data-testid="decision-row"][data-value="${address}"]`)).toHaveCount(1);
    const entry = page.locator(`[data-testid="allowlist"] tr[data-value="${address}"]`);
    await expect(entry.getByTestId("allow-scope")).toHaveText(siteB);
    await expect(entry.getByTestId("allow-expires")).toHaveText(/^(59m|1h 00m)/);
  } finally {
    await page.request.delete(`/api/v1/cerberus/crowdsec/decisions?value=${address}`);
    const allow = await (await page.request.get("/api/v1/cerberus/crowdsec/allowlist")).json();
    for (const e of allow.filter((e: any) => e.value === address)) {
      await page.request.delete(`/api/v1/cerberus/crowdsec/allowlist/${e.id}`);
    }
    for (const id of hostIds) await page.request.delete(`/api/v1/proxy-hosts/${id}`);
    upstream.close();
  }
});
