import { test, expect } from "@playwright/test";
import { jsEnabled, login, ready, watchErrors } from "./helpers";

// Proxy hosts through the UI, and the Security page's blocking card with the live data plane.
test("an admin adds a proxy host; it is listed and served; the Security page shows Caddy and the bouncer", async ({ page }, info) => {
  const errors = watchErrors(page);
  await login(page, info);
  const domain = jsEnabled(info) ? "js.localhost" : "nojs.localhost";

  await page.goto("/proxy-hosts");
  await ready(page, info);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Proxy Hosts");
  const form = page.getByTestId("proxy-form");
  await form.getByLabel("Domain").fill(domain);
  await form.getByLabel("Upstream").fill("http://127.0.0.1:9");
  await form.getByTestId("proxy-save").click();
  if (!jsEnabled(info)) await page.goto("/proxy-hosts");
  const row = page.locator(`tr[data-domain="${domain}"]`);
  await expect(row).toBeVisible();
  await expect(row).toContainText("http://127.0.0.1:9");
  await expect(row).toContainText("every node");

  // A host for chosen nodes only: listed with them, and this (central) node's Caddy does not serve it.
  const edgeOnly = jsEnabled(info) ? "edge-js.localhost" : "edge-nojs.localhost";
  await form.getByLabel("Domain").fill(edgeOnly);
  await form.getByLabel("Upstream").fill("http://127.0.0.1:9");
  await form.getByLabel("Nodes").fill("edge2, edge1");
  await form.getByTestId("proxy-save").click();
  if (!jsEnabled(info)) await page.goto("/proxy-hosts");
  await expect(page.locator(`tr[data-domain="${edgeOnly}"]`)).toContainText("edge1, edge2");

  // Bad input: a clear message, nothing saved.
  if (jsEnabled(info)) {
    await form.getByLabel("Domain").fill("http://bad domain");
    await form.getByLabel("Upstream").fill("http://127.0.0.1:9");
    await form.getByLabel("Nodes").fill("");
    await form.getByTestId("proxy-save").click();
    await expect(page.getByTestId("error-message")).toContainText("Enter a host name");
    await form.getByLabel("Domain").fill("bad-nodes.localhost");
    await form.getByLabel("Nodes").fill("Edge 1");
    await form.getByTestId("proxy-save").click();
    await expect(page.getByTestId("error-message")).toContainText("Enter node names");
    await expect(page.locator(`tr[data-domain="bad-nodes.localhost"]`)).toHaveCount(0);
  }

  // Caddy serves it (the upstream is down, so 502 — but Caddy answered for this host, and an
  // unknown host gets 404).
  const proxy = `http://127.0.0.1:${Number(process.env.E2E_PROXY_PORT ?? 18088)}`;
  await expect(async () => {
    const known = await page.request.get(`${proxy}/`, { headers: { Host: domain } });
    expect([200, 502, 503]).toContain(known.status());
    const unknown = await page.request.get(`${proxy}/`, { headers: { Host: "nobody.localhost" } });
    expect(unknown.status()).toBe(404);
    const elsewhere = await page.request.get(`${proxy}/`, { headers: { Host: edgeOnly } });
    expect(elsewhere.status()).toBe(404);
  }).toPass({ timeout: 10_000 });

  await page.goto("/security");
  await ready(page, info);
  const card = page.getByTestId("data-plane-card");
  await expect(card.getByTestId("dp-caddy")).toContainText("Running");
  await expect(card.getByTestId("dp-bouncer")).toContainText("Running");
  // The expected failures are the 400s of the bad input above.
  expect(errors.filter((e) => !e.includes("status of 400"))).toEqual([]);
});
