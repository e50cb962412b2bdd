import { expect, Page, TestInfo } from "@playwright/test";
import { ADMIN } from "./accounts";

export const jsEnabled = (info: TestInfo) => info.project.name !== "chromium-nojs";

/** Collects page errors and failed responses so a test can assert the page ran cleanly. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** With JavaScript, waits for hydration; a dead wasm would leave the marker unset. */
export async function ready(page: Page, info: TestInfo) {
  if (jsEnabled(info)) {
    await expect(page.locator("body[data-hydrated]")).toHaveCount(1);
  }
}

export async function login(page: Page, info: TestInfo, user = ADMIN) {
  await page.goto("/login");
  await ready(page, info);
  await page.getByLabel("Username").fill(user.username);
  await page.getByLabel("Password").fill(user.password);
  await page.getByTestId("login-submit").click();
  await expect(page).toHaveURL(/\/security$/);
  await ready(page, info);
}
