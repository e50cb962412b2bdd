import { test, expect } from "@playwright/test";
import { jsEnabled, login, ready, watchErrors } from "./helpers";

// Console enrollment against the project's CAPI simulator (started by the Playwright config).
const sim = () => `http://127.0.0.1:${process.env.E2E_CAPI_PORT}`;
const KEY = "cl5vt1v9v0000ml08ctq0uqyv";
const BAD = "invalidkey0000000000";

test.beforeEach(async ({ page }, info) => {
  await login(page, info);
  expect((await page.request.post(`${sim()}/admin/keys`, { data: { invalid: [BAD], expired: [] } })).status()).toBe(204);
  expect((await page.request.post("/api/v1/cerberus/crowdsec/start")).status()).toBe(200);
  expect((await page.request.delete("/api/v1/cerberus/crowdsec/console/enrollment")).status()).toBe(200);
});

test.afterEach(async ({ page }) => {
  await page.request.post("/api/v1/cerberus/crowdsec/stop");
});

test("an invalid key shows the documented message and the state says failed", async ({ page }, info) => {
  await page.goto("/security/console");
  await ready(page, info);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Console Enrollment");
  const form = page.getByTestId("console-form");
  const key = form.getByLabel("Enrollment key");
  await expect(key).toHaveAttribute("type", "password");
  if (jsEnabled(info)) {
    await form.getByRole("button", { name: "Show" }).click();
    await expect(key).toHaveAttribute("type", "text");
  }
  await key.fill(BAD);
  await form.getByTestId("console-enroll").click();
  if (jsEnabled(info)) {
    await expect(page.getByTestId("error-message")).toContainText("invalid enrollment key");
  } else {
    await page.goto("/security/console");
  }
  await expect(page.getByTestId("console-state")).toHaveAttribute("data-state", "failed");
  await expect(page.getByTestId("console-last-error")).toHaveText("invalid enrollment key");
});

test("enroll with a pasted cscli line, accept on the console, force a heartbeat: enrolled", async ({ page }, info) => {
  const errors = watchErrors(page);
  await page.goto("/security/console");
  await ready(page, info);
  const form = page.getByTestId("console-form");
  await form.getByLabel("Enrollment key").fill(`sudo cscli console enroll ${KEY}`);
  await form.getByLabel("Agent name").fill(`e2e-${info.project.name}`);
  await form.getByLabel("Tags (comma-separated)").fill("e2e, playwright");
  // The other project may have enrolled this engine already: CAPI would say "already enrolled".
  await form.getByLabel("Overwrite an existing enrollment").check();
  await form.getByTestId("console-enroll").click();
  if (jsEnabled(info)) {
    await expect(page.getByTestId("console-enrolled")).toBeVisible({ timeout: 20_000 });
  } else {
    await page.goto("/security/console");
  }
  await expect(page.getByTestId("console-state")).toHaveAttribute("data-state", "pending_acceptance", { timeout: 20_000 });
  await expect(page.getByTestId("console-connectivity")).toContainText("reachable");

  // What the user does on console.crowdsec.net.
  expect((await page.request.post(`${sim()}/admin/accept`)).status()).toBe(204);
  await page.getByTestId("console-heartbeat").click();
  if (!jsEnabled(info)) await page.goto("/security/console");
  await expect(page.getByTestId("console-state")).toHaveAttribute("data-state", "enrolled", { timeout: 20_000 });
  await expect(page.getByTestId("console-status")).toContainText(`e2e-${info.project.name}`);
  expect(errors).toEqual([]);
});
