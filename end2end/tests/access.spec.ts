import { test, expect } from "@playwright/test";
import { VIEWER } from "./accounts";
import { login, ready } from "./helpers";

test("a viewer sees the pages but no admin-only action, and the server refuses them", async ({ page }, info) => {
  await login(page, info, VIEWER);
  await expect(page.getByTestId("current-role")).toHaveText("Viewer");
  await page.goto("/settings");
  await ready(page, info);
  await expect(page.getByTestId("users-table")).toContainText("admin");
  await expect(page.getByTestId("readonly-notice")).toBeVisible();
  await expect(page.getByTestId("create-user-form")).toHaveCount(0);
  await expect(page.getByTestId("create-token-form")).toHaveCount(0);

  // Even a hand-made request with the viewer's session is refused.
  const res = await page.request.post("/rpc/users/create", {
    form: { username: "mallory", password: "mallory password 1", role: "admin" },
    headers: { Accept: "application/json" },
  });
  expect(res.status()).toBe(403);
  const rest = await page.request.post("/api/v1/users", {
    data: { username: "mallory", password: "mallory password 1", role: "admin" },
  });
  expect(rest.status()).toBe(403);
});

test("anonymous: pages redirect to login, server functions and REST answer 401 JSON", async ({ request }) => {
  const pageRes = await request.get("/security", { maxRedirects: 0 });
  expect(pageRes.status()).toBe(303);
  expect(pageRes.headers()["location"]).toBe("/login?next=%2Fsecurity");

  const rpc = await request.post("/rpc/users/list", { maxRedirects: 0 });
  expect(rpc.status()).toBe(401);
  expect(await rpc.json()).toEqual({ error: "unauthorized" });

  const rest = await request.get("/api/v1/users", { maxRedirects: 0 });
  expect(rest.status()).toBe(401);
  expect(await rest.json()).toEqual({ error: "unauthorized" });

  const health = await request.get("/health");
  expect(health.status()).toBe(200);
});

test("a mutating request from a foreign origin is refused", async ({ request }) => {
  const res = await request.post("/login", {
    form: { username: "admin", password: "x" },
    headers: { Origin: "http://evil.example" },
    maxRedirects: 0,
  });
  expect(res.status()).toBe(403);
});
