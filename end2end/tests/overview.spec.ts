import { test, expect } from "@playwright/test";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { jsEnabled, login, ready, request, watchErrors } from "./helpers";

// The Overview is where sign-in lands: the protection state, the period's totals, the charts as
// SVG (server-rendered, so they show without JavaScript) and their table, all agreeing with
// GET /api/v1/overview.
test("the Overview renders its charts and the table view matches the totals and the API", async ({ page }, info) => {
  const errors = watchErrors(page);
  // Traffic of its own: ten visits to a protected site (the engine is off: fail-open lets them through).
  const upstream = http.createServer((_, res) => res.end("hello"));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const domain = jsEnabled(info) ? "overview-js.localhost" : "overview-nojs.localhost";
  await login(page, info);
  const host = await page.request.post("/api/v1/proxy-hosts", { data: { domain, upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` } });
  expect(host.status()).toBe(201);
  const hostId = (await host.json()).id;
  try {
    await expect(async () => expect(await request("127.0.0.41", domain, "/")).toBe(200)).toPass({ timeout: 15_000 });
    for (let i = 0; i < 9; i++) expect(await request("127.0.0.41", domain, "/")).toBe(200);
    await expect.poll(async () => (await (await page.request.get("/api/v1/overview?range=1h")).json()).allowed, { timeout: 15_000 }).toBeGreaterThanOrEqual(10);
    await page.goto("/overview");
    await ready(page, info);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Overview");
    await expect(page.getByRole("link", { name: "Overview", exact: true })).toHaveAttribute("aria-current", "page");
    await expect(page.getByTestId("state-engine")).not.toBeEmpty();
    await expect(page.getByTestId("state-caddy")).toHaveText(/Running|Not running/);

    // Another period through a plain link (works without JavaScript).
    await page.getByTestId("overview-range").getByRole("link", { name: "7d" }).click();
    await expect(page).toHaveURL(/\/overview\?range=7d$/);
    await ready(page, info);
    await expect(page.getByTestId("overview-range").getByRole("link", { name: "7d" })).toHaveAttribute("aria-current", "page");
    // The access log of earlier tests may still be being read: compare once the numbers hold still.
    let api: any;
    await expect(async () => {
      await page.reload();
      await ready(page, info);
      api = await (await page.request.get("/api/v1/overview?range=7d")).json();
      await expect(page.getByTestId("total-checked")).toHaveText(String(api.checked), { timeout: 1_000 });
      await expect(page.getByTestId("total-allowed")).toHaveText(String(api.allowed), { timeout: 1_000 });
      await expect(page.getByTestId("total-blocked")).toHaveText(String(api.blocked), { timeout: 1_000 });
      await expect(page.getByTestId("total-bans")).toHaveText(String(api.bans), { timeout: 1_000 });
      // The bans chart is stacked by the API's scenarios, named in its legend.
      await expect(page.getByTestId("bans-legend").locator("li")).toHaveText(api.scenarios, { timeout: 1_000 });
    }).toPass({ timeout: 20_000 });

    // Two charts, each an image with a name.
    await expect(page.locator("svg.chart[role=img]")).toHaveCount(2);
    await expect(page.getByRole("img", { name: /Requests: let through/ })).toBeVisible();
    // The table view holds the same numbers: its "allowed" column adds up to the total.
    await page.locator("details", { has: page.getByTestId("overview-table") }).locator("summary").click();
    const table = page.getByTestId("overview-table");
    await expect(table).toBeVisible();
    const cells = await table.locator("tbody tr td:nth-of-type(1)").allTextContents();
    expect(cells.reduce((sum, c) => sum + Number(c), 0)).toBe(api.allowed);
    // The bars' own tooltips say the same (one rect per non-empty part).
    const bars = await page.locator("svg.chart rect.bar-allowed title").allTextContents();
    expect(bars.reduce((sum, t) => sum + Number(t.split(": ").pop()), 0)).toBe(api.allowed);
    expect(api.allowed).toBeGreaterThanOrEqual(10);
    expect(api.blocked_by_site.concat(api.top_blocked_addresses).every((c: any) => c.name !== domain && c.name !== "127.0.0.41")).toBe(true);
    expect(errors).toEqual([]);
  } finally {
    await page.request.delete(`/api/v1/proxy-hosts/${hostId}`);
    upstream.close();
  }
});
