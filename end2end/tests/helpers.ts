import { expect, Page, TestInfo } from "@playwright/test";
import * as http from "node:http";
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
  await expect(page).toHaveURL(/\/overview$/);
  await ready(page, info);
}

/** The data plane's proxy port (the server the suite starts listens there). */
export const PROXY = { host: "127.0.0.1", port: Number(process.env.E2E_PROXY_PORT ?? 18088) };

/** One request to a site behind the proxy from `from` (a loopback address of its own); its status. */
export function request(from: string, host: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { ...PROXY, path, localAddress: from, headers: { Host: host, "User-Agent": "e2e-scanner/1.0" }, agent: false, timeout: 5_000 },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}
