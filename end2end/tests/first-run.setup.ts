import { test, expect } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import { ADMIN, VIEWER } from "./accounts";
import { ready, watchErrors } from "./helpers";

test("fresh data dir: every page leads to setup, which creates the admin and then disappears", async ({ page, request }, info) => {
  const errors = watchErrors(page);

  await page.goto("/security");
  await expect(page).toHaveURL(/\/setup$/);
  await ready(page, info);
  await expect(page.getByRole("heading", { name: "Create the administrator account" })).toBeVisible();

  // The one-time setup code, as an operator copies it from the data dir (or the log).
  const code = fs.readFileSync(path.join(process.env.E2E_DATA_DIR!, "setup-code"), "utf8").trim();
  await page.getByLabel("Setup code").fill(code);
  // A short password is refused with a clear message and nothing is created.
  await page.getByLabel("Username").fill(ADMIN.username);
  await page.locator("#setup-password").fill("short");
  await page.locator("#setup-password-confirm").fill("short");
  // The browser's own minlength check would stop the form; bypass it to exercise the server.
  await page.locator("form[data-testid=setup-form]").evaluate((f: HTMLFormElement) => (f.noValidate = true));
  await page.getByTestId("setup-submit").click();
  await expect(page.getByTestId("setup-error")).toHaveText(/at least 12 characters/);
  await ready(page, info);

  await page.getByLabel("Setup code").fill(code);
  await page.getByLabel("Username").fill(ADMIN.username);
  await page.locator("#setup-password").fill(ADMIN.password);
  await page.locator("#setup-password-confirm").fill(ADMIN.password);
  await page.getByTestId("setup-submit").click();
  await expect(page).toHaveURL(/\/overview$/);
  await ready(page, info);
  await expect(page.getByTestId("current-username")).toHaveText(ADMIN.username);

  // Setup is gone for good.
  const again = await request.get("/setup", { maxRedirects: 0 });
  expect(again.status()).toBe(404);

  // The admin adds a viewer from Settings → Users.
  await page.getByRole("link", { name: "Settings" }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await ready(page, info);
  const form = page.getByTestId("create-user-form");
  await form.getByLabel("Username").fill(VIEWER.username);
  await form.getByLabel("Password").fill(VIEWER.password);
  await form.getByLabel("Role").selectOption("viewer");
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByTestId("user-created")).toBeVisible();
  await expect(page.getByTestId("users-table")).toContainText(VIEWER.username);
  expect(errors).toEqual([]);
});
