import { test, expect } from "@playwright/test";
import { VIEWER } from "./accounts";
import { jsEnabled, login, ready, watchErrors } from "./helpers";

test("login → Security page with the CrowdSec card → German → logout", async ({ page }, info) => {
  const errors = watchErrors(page);
  await login(page, info);
  // Sign-in lands on the Overview; the Security page is one link away.
  await expect(page.getByTestId("overview-state")).toBeVisible();
  await page.getByRole("link", { name: "Security", exact: true }).click();
  await expect(page).toHaveURL(/\/security$/);
  await ready(page, info);

  const card = page.getByTestId("crowdsec-card");
  await expect(card.getByRole("heading", { name: "CrowdSec" })).toBeVisible();
  await expect(card).toContainText("IP Reputation & Threat Intelligence");
  await expect(card).toContainText("Layer 1");
  await expect(card).toContainText("IDS");
  const toggle = page.getByTestId("toggle-crowdsec");
  await expect(toggle).toHaveAttribute("role", "switch");
  await expect(toggle).toHaveAttribute("aria-checked", "false");
  await expect(toggle).toBeEnabled();
  await expect(page.getByTestId("crowdsec-status")).toHaveText("Disabled");
  await expect(page.getByRole("switch", { name: "CrowdSec protection" })).toBeVisible();

  // Language: German, persisted across a reload.
  await page.getByTestId("locale-select").selectOption("de");
  await page.getByTestId("locale-apply").click();
  await ready(page, info);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sicherheit");
  await expect(page.getByRole("link", { name: "Einstellungen" })).toBeVisible();
  await expect(page.locator("html")).toHaveAttribute("lang", "de");
  await page.reload();
  await ready(page, info);
  await expect(page.getByTestId("crowdsec-card")).toContainText("IP-Reputation & Bedrohungsanalyse");

  // Back to English for the other tests, then sign out.
  await page.getByTestId("locale-select").selectOption("en");
  await page.getByTestId("locale-apply").click();
  await ready(page, info);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Security");
  await page.getByTestId("logout").click();
  await expect(page).toHaveURL(/\/login$/);

  // Signed out means signed out: a protected page sends us back to the login with `next`.
  await page.goto("/settings");
  await expect(page).toHaveURL(/\/login\?next=%2Fsettings$/);
  expect(errors).toEqual([]);
});

test("a wrong password shows an error and does not sign in", async ({ page }, info) => {
  await page.goto("/login");
  await ready(page, info);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("not the password at all");
  await page.getByTestId("login-submit").click();
  await expect(page.getByTestId("login-error")).toHaveText("Invalid username or password.");
  await expect(page).toHaveURL(/\/login\?error=invalid/);
  await page.goto("/security");
  await expect(page).toHaveURL(/\/login\?next=/);
});

test("after sign-in the user lands where they wanted to go", async ({ page }, info) => {
  await page.goto("/settings");
  await expect(page).toHaveURL(/\/login\?next=%2Fsettings$/);
  await ready(page, info);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("correct horse battery staple");
  await page.getByTestId("login-submit").click();
  await expect(page).toHaveURL(/\/settings$/);
});

test("an admin creates an API token in Settings; it is shown once and authenticates REST", async ({ page, request }, info) => {
  test.skip(!info.project.name.endsWith("-js"), "the one-time token display needs JavaScript");
  await login(page, info);
  await page.goto("/settings");
  await ready(page, info);
  const form = page.getByTestId("create-token-form");
  await form.getByLabel("Token name").fill(`e2e-${Date.now()}`);
  await form.getByLabel("Role").selectOption("viewer");
  await form.getByRole("button", { name: "Create token" }).click();
  const token = (await page.getByTestId("new-token").textContent())!.trim();
  expect(token).toMatch(/^chr_[0-9a-f]{64}$/);
  await expect(page.getByTestId("tokens-table")).toContainText(token.slice(0, 8));
  await expect(page.getByTestId("tokens-table")).not.toContainText(token);

  const me = await request.get("/api/v1/auth/me", { headers: { Authorization: `Bearer ${token}` } });
  expect(me.status()).toBe(200);
  expect((await me.json()).role).toBe("viewer");
  await page.reload();
  await ready(page, info);
  await expect(page.getByTestId("new-token")).toHaveCount(0);
});

// Settings → Sessions: the viewer signed in twice ends her other session from the page; that
// session is signed out at once (a plain form: works without JavaScript too).
test("a user ends another of her sessions on the Sessions page", async ({ page, playwright, baseURL }, info) => {
  const errors = watchErrors(page);
  const base = baseURL!;
  // The other browser: its own cookie jar, signed in as the viewer.
  const other = await playwright.request.newContext({ baseURL: base, extraHTTPHeaders: { Origin: new URL(base).origin } });
  try {
    const signIn = await other.post("/login", { form: { username: VIEWER.username, password: VIEWER.password, next: "/overview" }, maxRedirects: 0 });
    expect(signIn.status()).toBe(303);
    const its = (await (await other.get("/api/v1/sessions")).json()).find((s: any) => s.current).id;
    await login(page, info, VIEWER);
    await page.goto("/settings");
    await ready(page, info);
    await page.getByTestId("sessions-link").click();
    await expect(page).toHaveURL(/\/settings\/sessions$/);
    await ready(page, info);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sessions");
    await expect(page.locator('tr[data-testid="session-row"][data-current="true"]')).toHaveCount(1);
    const row = page.locator('tr[data-testid="session-row"]', { has: page.locator(`input[value="${its}"]`) });
    await expect(row).toHaveCount(1);
    await row.getByTestId("session-end").click();
    if (jsEnabled(info)) await expect(page.getByTestId("session-ended")).toBeVisible();
    await expect(row).toHaveCount(0);
    expect((await other.get("/api/v1/auth/me")).status()).toBe(401);
    expect(errors).toEqual([]);
  } finally {
    await other.dispose();
  }
});

// Single sign-on: the provider of the suite (end2end/oidc-idp.mjs) signs "sso-e2e" in, whose group
// maps to the operator role; the browser lands where it was going, signed in as that account.
test("sign in with the identity provider", async ({ page }, info) => {
  const errors = watchErrors(page);
  await page.goto("/login?next=%2Fsecurity%2Fdecisions");
  await ready(page, info);
  await page.getByRole("link", { name: "Sign in with E2E IdP" }).click();
  await expect(page).toHaveURL(/\/security\/decisions$/);
  await ready(page, info);
  const me = await (await page.request.get("/api/v1/auth/me")).json();
  expect([me.username, me.role]).toEqual(["sso-e2e", "operator"]);
  expect(errors).toEqual([]);
});

// Settings → Sign-in shows the suite's provider (from the environment), never its client secret,
// and names a bad field without saving anything.
test("an administrator sees single sign-on's settings; a bad role map is named and nothing is saved", async ({ page }, info) => {
  test.skip(!jsEnabled(info), "the inline error needs JavaScript; the page is a plain form");
  await login(page, info);
  await page.goto("/settings");
  await ready(page, info);
  await page.getByTestId("sso-link").click();
  await expect(page).toHaveURL(/\/settings\/sign-in$/);
  await ready(page, info);
  const form = page.getByTestId("sso-form");
  await expect(form.getByLabel("Issuer URL (empty: off)")).toHaveValue(/^http:\/\/127\.0\.0\.1:\d+$/);
  await expect(form.getByLabel("Groups to roles")).toHaveValue("oncall=operator");
  await expect(page.getByTestId("sso-secret-state")).toContainText("Stored, never shown");
  await expect(page.getByTestId("sso-source")).toContainText("From the config file");
  expect(await page.content()).not.toContain("e2e-client-secret");
  await form.getByLabel("Groups to roles").fill("oncall=root");
  await page.getByTestId("sso-save").click();
  await expect(page.getByTestId("error-message")).toContainText("Map at least one group");
  const saved = await (await page.request.get("/api/v1/settings/sign-in")).json();
  expect([saved.source, saved.role_map]).toEqual(["config", "oncall=operator"]);
});
