import { test, expect } from "@playwright/test";
import { VIEWER } from "./accounts";
import { jsEnabled, login, ready, watchErrors } from "./helpers";

const FLEET = `https://127.0.0.1:${Number(process.env.E2E_FLEET_PORT ?? 18443)}`;

// The Nodes page: an administrator gets the one-time join command; a viewer sees the list only.
test("an admin adds a node and gets its join command once; a viewer cannot", async ({ page, browser }, info) => {
  const errors = watchErrors(page);
  await login(page, info);
  await page.goto("/nodes");
  await ready(page, info);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Nodes");
  await expect(page.getByTestId("nodes-none")).toHaveText("No nodes yet.");
  const add = page.getByTestId("node-add");
  await expect(add).toBeVisible();
  // The command is a server function's answer: the page says that it needs JavaScript.
  await expect(page.getByTestId("node-add-hint")).toContainText("Showing the join command needs JavaScript");
  if (jsEnabled(info)) {
    await add.focus();
    await page.keyboard.press("Enter");
    const shown = page.getByTestId("node-command");
    await expect(shown).toContainText(`charon node --join ${FLEET} --token CJ1.`);
    const command = (await shown.locator("code").textContent()) ?? "";
    // Shown once: a new page does not show it again.
    await page.reload();
    await ready(page, info);
    await expect(page.getByTestId("node-command")).toHaveCount(0);
    expect(await page.content()).not.toContain(command.split("--token ")[1]);
  }
  // The REST twin: the same shape, a token each time.
  const a = await (await page.request.post("/api/v1/nodes/join-tokens")).json();
  const b = await (await page.request.post("/api/v1/nodes/join-tokens")).json();
  expect(a.command).toBe(`charon node --join ${FLEET} --token ${a.token}`);
  expect(a.token).not.toBe(b.token);
  expect(errors).toEqual([]);

  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await login(viewer, info, VIEWER);
  await viewer.goto("/nodes");
  await ready(viewer, info);
  await expect(viewer.getByRole("heading", { level: 1 })).toHaveText("Nodes");
  await expect(viewer.getByTestId("node-add")).toHaveCount(0);
  expect((await viewer.request.post("/api/v1/nodes/join-tokens")).status()).toBe(403);
  await viewerContext.close();
});
