import { test, expect } from "@playwright/test";
import * as crypto from "node:crypto";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { VIEWER } from "./accounts";
import { jsEnabled, login, ready, watchErrors } from "./helpers";

// Settings → Notifications: an admin adds a webhook channel, sends a test that arrives signed at a
// receiver on loopback, sees it in the history; the URL's token is never shown; a viewer reads only.
test("a webhook channel is added, its test arrives signed, the history shows it, a viewer only reads", async ({ page, browser }, info) => {
  const errors = watchErrors(page);
  const js = jsEnabled(info);
  const name = js ? "e2e hook js" : "e2e hook nojs";
  const secret = "e2e-signing-secret-0123456789";
  const received: { headers: http.IncomingHttpHeaders; body: Buffer }[] = [];
  const sink = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook?token=very-secret-path-token`;
  let channelId: number | undefined;
  try {
    await login(page, info);
    await page.goto("/settings");
    await ready(page, info);
    await page.getByTestId("notify-link").click();
    await expect(page).toHaveURL(/\/settings\/notifications$/);
    await ready(page, info);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Notifications");

    await page.getByTestId("notify-add").click();
    const form = page.getByTestId("notify-form");
    await form.getByLabel("Kind").selectOption("webhook");
    await form.getByLabel("Name", { exact: true }).fill(name);
    await form.getByLabel("URL (kept secret)").fill(url);
    await form.getByLabel(/Webhook signing secret/).fill(secret);
    await form.getByLabel("Manual bans, unbans and allows").check();
    await form.getByLabel("Digest", { exact: true }).selectOption("daily");
    await form.getByLabel("Digest time (UTC)").fill("06:45");
    await form.getByTestId("notify-submit").click();
    if (js) await expect(page.getByTestId("notify-created")).toContainText(name);
    else await page.goto("/settings/notifications");
    const row = page.locator(`tr[data-testid="notify-channel"][data-name="${name}"]`);
    await expect(row).toBeVisible();
    await expect(row).toContainText("Engine alerts, Manual bans, unbans and allows, Engine down, Bouncer down or stale");
    await expect(row).toContainText("Digest: daily 06:45 UTC");
    await expect(page.locator("body")).not.toContainText("very-secret-path-token");
    channelId = (await (await page.request.get("/api/v1/notifications/channels")).json()).find((c: any) => c.name === name).id;

    await row.getByTestId("notify-test").click();
    if (js) await expect(page.getByTestId("notify-test-result")).toContainText("Test delivered");
    await expect.poll(() => received.length, { timeout: 10_000 }).toBeGreaterThan(0);
    const got = received[0];
    const expected = "sha256=" + crypto.createHmac("sha256", secret).update(got.body).digest("hex");
    expect(got.headers["x-charon-signature"]).toBe(expected);
    expect(JSON.parse(got.body.toString()).event).toBe("test");

    // "Send the digest now": the page shows it, the receiver gets its numbers as JSON.
    await page.goto("/settings/notifications");
    await ready(page, info);
    await row.getByTestId("notify-digest").click();
    if (js) await expect(page.getByTestId("notify-digest-text")).toContainText("Bans:");
    await expect.poll(() => received.map((r) => JSON.parse(r.body.toString())).find((m) => m.event === "digest")?.digest?.period, { timeout: 10_000 }).toBe("daily");

    await page.goto("/settings/notifications");
    await ready(page, info);
    const sent = page.locator('tr[data-testid="notify-history-row"][data-status="sent"]').filter({ hasText: name });
    await expect(sent.first()).toBeVisible();

    // A viewer sees the channel, masked, and no button that changes anything.
    const context = await browser.newContext({ javaScriptEnabled: js });
    const viewer = await context.newPage();
    await login(viewer, info, VIEWER);
    await viewer.goto("/settings/notifications");
    await ready(viewer, info);
    await expect(viewer.locator(`tr[data-name="${name}"]`)).toContainText("http://127.0.0.1:");
    await expect(viewer.getByTestId("notify-test")).toHaveCount(0);
    await expect(viewer.getByTestId("notify-add")).toHaveCount(0);
    await context.close();
    expect(errors).toEqual([]);
  } finally {
    if (channelId !== undefined) await page.request.delete(`/api/v1/notifications/channels/${channelId}`);
    sink.close();
  }
});
