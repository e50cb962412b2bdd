import { test, expect } from "@playwright/test";
import { createHmac } from "node:crypto";
import { jsEnabled, login, ready, watchErrors } from "./helpers";

/** RFC 6238 (SHA-1, 6 digits, 30 s) for the time step `step`, from a base32 secret. */
function totp(secret: string, step: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}
const step = (ahead: number) => Math.floor(Date.now() / 1000 / 30) + ahead;

// A user of its own (requiring a second factor of the shared admin would change every other test):
// set-up on the Two-factor page (with JavaScript; without it, through the page's server
// functions), then a sign-in in a fresh browser asks for the code after the password.
test("sign in with password and TOTP", async ({ page }, info) => {
  const errors = watchErrors(page);
  const user = { username: `totp-${info.project.name}`, password: "second factor test 1" };
  await login(page, info);
  expect((await page.request.post("/api/v1/users", { data: { ...user, role: "viewer" } })).status()).toBe(201);
  await page.context().clearCookies();
  await login(page, info, user);

  let secret: string;
  if (jsEnabled(info)) {
    await page.goto("/settings");
    await ready(page, info);
    await page.getByTestId("two-factor-link").click();
    await expect(page).toHaveURL(/\/settings\/two-factor$/);
    await ready(page, info);
    await expect(page.getByTestId("totp-status")).toHaveAttribute("data-enabled", "false");
    await page.getByTestId("totp-begin").click();
    await expect(page.getByRole("img", { name: "QR code for the authenticator app" })).toBeVisible();
    secret = (await page.getByTestId("totp-secret").textContent())!.trim();
    await page.getByTestId("totp-confirm-form").getByLabel("Code").fill(totp(secret, step(0)));
    await page.getByTestId("totp-confirm").click();
    await expect(page.getByTestId("totp-recovery").locator("li")).toHaveCount(10);
    await expect(page.getByTestId("totp-status")).toHaveAttribute("data-enabled", "true");
  } else {
    const setup = await (await page.request.post("/rpc/totp/begin", { form: {} })).json();
    secret = setup.secret;
    expect((await page.request.post("/rpc/totp/confirm", { form: { code: totp(secret, step(0)) } })).status()).toBe(200);
    await page.goto("/settings/two-factor");
    await expect(page.getByTestId("totp-status")).toHaveAttribute("data-enabled", "true");
  }

  // A fresh browser: the password leads to the second step, a wrong code says so, the right one signs in.
  await page.context().clearCookies();
  await page.goto("/login");
  await ready(page, info);
  await page.getByLabel("Username").fill(user.username);
  await page.getByLabel("Password").fill(user.password);
  await page.getByTestId("login-submit").click();
  await expect(page).toHaveURL(/\/login\/code\?next=/);
  await ready(page, info);
  await page.getByLabel("Code").fill("000000");
  await page.getByTestId("code-submit").click();
  await expect(page.getByTestId("code-error")).toBeVisible();
  await ready(page, info);
  await page.getByLabel("Code").fill(totp(secret, step(1)));
  await page.getByTestId("code-submit").click();
  await expect(page).toHaveURL(/\/overview$/);
  await ready(page, info);
  expect((await (await page.request.get("/api/v1/auth/me")).json()).username).toBe(user.username);
  expect(errors).toEqual([]);
});
