import { test, expect } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import { VIEWER } from "./accounts";
import { jsEnabled, login, ready, watchErrors } from "./helpers";

// Hub presets against the real engine of the test server: search, install from the detail page,
// the "Installed" badge, and the engine's own log showing it loaded the scenario.
const engineLog = () => path.join(process.env.E2E_DATA_DIR!, "crowdsec", "logs", "crowdsec.log");

/** Scenario files the engine loaded at its most recent start, from its own log. */
const loadedScenarioFiles = (): string[] => {
  const log = fs.readFileSync(engineLog(), "utf8");
  const last = log.slice(log.lastIndexOf('msg="Crowdsec v'));
  return [...last.matchAll(/msg="Adding \w+ bucket".* file=(\S+)/g)].map((m) => path.basename(m[1]));
};

test.afterEach(async ({ page }) => {
  await page.request.post("/api/v1/cerberus/crowdsec/stop");
});

test("search 'probing', install a scenario, see Installed and the engine loading it", async ({ page }, info) => {
  const errors = watchErrors(page);
  await login(page, info);
  expect((await page.request.post("/api/v1/cerberus/crowdsec/start")).status()).toBe(200);
  // Each project installs its own item, so the second finds a clean state.
  const item = jsEnabled(info) ? "crowdsecurity/http-wordpress_wpconfig" : "crowdsecurity/http-wordpress_user-enum";
  const file = `${item.split("/")[1]}.yaml`;

  await page.goto("/security/hub");
  await ready(page, info);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Hub Presets");
  await expect(page.getByTestId("preset")).toHaveCount(6);
  await expect(page.locator('[data-testid="preset"][data-name="crowdsecurity/http-probing"]')).toContainText("Installed");

  if (jsEnabled(info)) {
    // Results as you type, no submit.
    await page.getByLabel("Search").fill("probing");
  } else {
    await page.goto("/security/hub?q=probing");
  }
  const row = page.locator(`tr[data-testid="hub-row"][data-name="${item}"]`);
  await expect(row).toBeVisible();
  await expect(page.locator('tr[data-testid="hub-row"][data-name="crowdsecurity/ssh-bf"]')).toHaveCount(0);
  await expect(row).not.toContainText("Installed");
  await row.getByRole("link", { name: item }).click();

  await expect(page.getByRole("heading", { level: 1 })).toHaveText(item);
  await ready(page, info);
  const detail = page.getByTestId("hub-detail");
  await expect(detail).toContainText("detect wordpress probing");
  await detail.getByRole("button", { name: `Install ${item}` }).click();
  if (jsEnabled(info)) {
    const outcome = page.getByTestId("hub-outcome");
    await expect(outcome).toContainText("CrowdSec confirmed loading them", { timeout: 30_000 });
    await expect(outcome).toHaveAttribute("data-verified", "true");
  }
  await expect(detail.getByTestId("installed-badge")).toBeVisible({ timeout: 30_000 });
  await expect(detail.getByRole("button", { name: `Remove ${item}` })).toBeVisible();
  expect(loadedScenarioFiles()).toContain(file);

  // The catalogue shows it installed too.
  await page.goto(`/security/hub?q=${encodeURIComponent(item)}`);
  await expect(page.locator(`tr[data-testid="hub-row"][data-name="${item}"]`)).toContainText("Installed");
  expect(errors).toEqual([]);
});

test("an unknown item is a clear error, and a viewer sees no install buttons", async ({ page }, info) => {
  await login(page, info);
  await page.goto("/security/hub/collections/crowdsecurity/does-not-exist");
  await ready(page, info);
  await expect(page.getByTestId("error-message")).toHaveText("It no longer exists.");

  await page.context().clearCookies();
  await login(page, info, VIEWER);
  await page.goto("/security/hub/collections/crowdsecurity/base-http-scenarios");
  await ready(page, info);
  await expect(page.getByTestId("hub-detail")).toContainText("crowdsecurity/http-probing");
  await expect(page.getByTestId("required-by")).toContainText("crowdsecurity/caddy");
  await expect(page.getByTestId("hub-install")).toHaveCount(0);
  await expect(page.getByTestId("hub-remove")).toHaveCount(0);
});
