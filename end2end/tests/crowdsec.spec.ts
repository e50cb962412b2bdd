import { test, expect } from "@playwright/test";
import { VIEWER } from "./accounts";
import { jsEnabled, login, ready } from "./helpers";

// The real crowdsec engine behind the Security page's switch.
test("toggle on → Enabled with a PID and the masked bouncer key; Copy; toggle off → key display gone", async ({ page, context }, info) => {
  await login(page, info);
  await page.goto("/security");
  await ready(page, info);
  const toggle = page.getByTestId("toggle-crowdsec");
  await expect(toggle).toHaveAttribute("aria-checked", "false");
  await expect(page.getByTestId("bouncer-key-display")).toHaveCount(0);

  await toggle.click();
  if (jsEnabled(info)) {
    // Progress is shown while the engine starts, then the outcome.
    await expect(page.getByTestId("crowdsec-toast")).toHaveText("CrowdSec started and LAPI is ready", { timeout: 60_000 });
  }
  await expect(page.getByTestId("crowdsec-status")).toHaveText("Enabled", { timeout: 60_000 });
  await expect(toggle).toHaveAttribute("aria-checked", "true");
  await expect(page.getByTestId("crowdsec-process")).toHaveText(/Running \(PID \d+\)/);

  const display = page.getByTestId("bouncer-key-display");
  await expect(display).toContainText("Bouncer API Key");
  await expect(page.getByTestId("bouncer-key-preview")).toHaveText(/^[0-9a-f]{4}…[0-9a-f]{3}$/);
  await expect(page.getByTestId("bouncer-registered")).toHaveText("Registered");
  await expect(page.getByTestId("bouncer-key-source")).toHaveText("From file");
  await expect(page.getByTestId("bouncer-key-path")).toHaveText(/crowdsec\/bouncer_key$/);

  if (jsEnabled(info)) {
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.getByTestId("bouncer-key-copy").click();
    await expect(page.getByTestId("bouncer-key-copied")).toHaveText("API key copied to clipboard");
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    expect(clip).toMatch(/^[0-9a-f]{32}$/);
    const preview = (await page.getByTestId("bouncer-key-preview").textContent())!;
    expect(clip.startsWith(preview.slice(0, 4))).toBe(true);
    expect(clip.endsWith(preview.slice(-3))).toBe(true);
  }

  await page.getByTestId("toggle-crowdsec").click();
  await expect(page.getByTestId("crowdsec-status")).toHaveText("Disabled", { timeout: 30_000 });
  await expect(page.getByTestId("crowdsec-process")).toHaveText("Process stopped");
  await expect(page.getByTestId("bouncer-key-display")).toHaveCount(0);
  if (jsEnabled(info)) {
    await expect(page.getByTestId("crowdsec-toast")).toHaveText("CrowdSec stopped");
  }
});

test("a viewer sees the engine's state but the switch does nothing for them", async ({ page }, info) => {
  await login(page, info, VIEWER);
  await page.goto("/security");
  await ready(page, info);
  const toggle = page.getByTestId("toggle-crowdsec");
  await expect(toggle).toBeVisible();
  await expect(toggle).toBeDisabled();
  await expect(page.getByTestId("crowdsec-status")).toHaveText("Disabled");
  const res = await page.request.post("/rpc/crowdsec/toggle", {
    form: { enabled: "true" },
    headers: { Accept: "application/json" },
  });
  expect(res.status()).toBe(403);
});
