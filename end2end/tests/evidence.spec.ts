import { test, expect } from "@playwright/test";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { jsEnabled, login, ready, request } from "./helpers";

// Why was this banned, and the one-step fix: a scan from a test address is detected and blocked,
// its alert shows the requests it made (from Charon's own access log), "Unban and allow 1 hour"
// lets it through the protected site again, and the audit log names the action and its actor.
test.afterEach(async ({ page }) => {
  await page.request.post("/api/v1/cerberus/crowdsec/stop");
});

test("a scan's alert shows its requests; unban and allow 1 h lets it through; the audit log names who", async ({ page }, info) => {
  test.setTimeout(120_000);
  const js = jsEnabled(info);
  const scanner = js ? "127.0.0.7" : "127.0.0.8";
  const domain = js ? "evidence-js.localhost" : "evidence-nojs.localhost";
  const upstream = http.createServer((_, res) => res.end("hello from upstream"));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  let hostId: number | undefined;
  try {
    await login(page, info);
    expect((await page.request.post("/api/v1/cerberus/crowdsec/start")).status()).toBe(200);
    const created = await page.request.post("/api/v1/proxy-hosts", { data: { domain, upstream: `http://127.0.0.1:${upstreamPort}` } });
    expect(created.status()).toBe(201);
    hostId = (await created.json()).id;
    await expect(async () => expect(await request(scanner, domain, "/")).toBe(200)).toPass({ timeout: 15_000 });

    // The scan: one CVE-2021-41773 probe fires a scenario; the scanner is then refused.
    await request(scanner, domain, "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd");
    await expect(async () => expect(await request(scanner, domain, "/")).toBe(403)).toPass({ timeout: 30_000 });

    // The console follows the bouncer within a couple of seconds.
    await expect(async () => {
      const listed = await (await page.request.get(`/api/v1/cerberus/crowdsec/decisions?q=${scanner}`)).json();
      expect(listed.total).toBeGreaterThan(0);
    }).toPass({ timeout: 10_000 });

    // Live Decisions → Why? → the alert → its evidence.
    await page.goto(`/security/decisions?q=${scanner}`);
    await ready(page, info);
    const row = page.locator(`tr[data-value="${scanner}"]`).first();
    await expect(row).toBeVisible();
    await row.getByTestId("why").click();
    await ready(page, info);
    const alertRow = page.getByTestId("alert-row").filter({ hasText: "http-cve-2021-41773" });
    await expect(alertRow).toHaveCount(1);
    await alertRow.getByRole("link").click();
    await expect(page).toHaveURL(/\/security\/alerts\/\d+$/);
    await ready(page, info);
    const evidence = page.getByTestId("evidence");
    await expect(async () => {
      await page.reload();
      await expect(evidence.getByTestId("evidence-requests")).toContainText("etc/passwd", { timeout: 1_000 });
      await expect(evidence.getByTestId("evidence-refused")).toContainText(domain, { timeout: 1_000 });
    }).toPass({ timeout: 15_000 });
    await expect(evidence.getByTestId("evidence-requests")).toContainText("e2e-scanner/1.0");
    await ready(page, info);

    // Unban and allow for 1 hour, from the alert's page.
    const form = page.getByTestId("alert-unban");
    await form.getByLabel(`Unban and allow for how long: ${scanner}`).selectOption("1h");
    await form.getByTestId("unban-allow").click();
    if (js) {
      await expect(page.getByTestId("unban-allow-done")).toContainText("decisions deleted");
    }
    await expect(async () => expect(await request(scanner, domain, "/")).toBe(200)).toPass({ timeout: 10_000 });
    const allow = await (await page.request.get("/api/v1/cerberus/crowdsec/allowlist")).json();
    const entry = allow.find((e: any) => e.value === scanner);
    expect(entry?.expires_at).toBeTruthy();

    // The allowlist shows the remaining time; the audit log names the action and its actor.
    await page.goto("/security/decisions");
    await ready(page, info);
    await expect(page.locator(`[data-testid="allowlist"] tr[data-value="${scanner}"] [data-testid="allow-expires"]`)).toHaveText(/^(59m|1h 00m)/);
    await page.goto(`/audit?action=decision.unban_and_allow&q=${scanner}`);
    await ready(page, info);
    const auditRow = page.getByTestId("audit-row").first();
    await expect(auditRow).toContainText("decision.unban_and_allow");
    await expect(auditRow.getByTestId("audit-actor")).toContainText("admin");
    await expect(auditRow.getByTestId("audit-actor")).toContainText("web UI");
    await expect(auditRow.getByTestId("audit-target")).toContainText(scanner);
    await expect(auditRow.getByTestId("audit-result")).toHaveText("ok");
  } finally {
    await page.request.delete(`/api/v1/cerberus/crowdsec/allowlist?value=${scanner}`);
    if (hostId !== undefined) await page.request.delete(`/api/v1/proxy-hosts/${hostId}`);
    upstream.close();
  }
});
