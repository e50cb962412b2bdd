import { test, expect } from "@playwright/test";
import { login, ready } from "./helpers";

// Every page at a phone's width (390 px): nothing makes the page scroll sideways (wide tables
// scroll inside their own box).
test("every page fits a 390 px wide phone", async ({ page }, info) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await login(page, info);
  for (const path of ["/overview", "/security", "/security/enforcement", "/security/decisions", "/security/alerts", "/security/hub", "/security/console", "/proxy-hosts", "/nodes", "/settings", "/settings/notifications", "/settings/sessions", "/settings/two-factor", "/settings/sign-in", "/audit"]) {
    await page.goto(path);
    await ready(page, info);
    const { scroll, width, wide } = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      // The outermost elements that stick out, and absolutely placed ones (they escape a scroll
      // box without a positioned ancestor): what to fix when this fails.
      const wide = [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > width + 1)
        .filter((e) => getComputedStyle(e).position === "absolute" || !(e.parentElement && e.parentElement.getBoundingClientRect().right > width + 1))
        .slice(0, 5)
        .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join(".")} ${Math.round(e.getBoundingClientRect().right)}px`);
      return { scroll: document.documentElement.scrollWidth, width, wide };
    });
    expect.soft(scroll, `${path} scrolls sideways: ${wide.join(", ")}`).toBeLessThanOrEqual(width);
  }
});

// Light or dark: the system's preference until the user picks one; the choice survives a reload.
test("the theme follows the system until chosen, and the choice is kept", async ({ page }, info) => {
  await page.emulateMedia({ colorScheme: "light" });
  await login(page, info);
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await expect(page.locator("html")).toHaveAttribute("data-theme", "system");
  expect(await background()).toBe("rgb(246, 248, 251)");
  const switcher = page.getByTestId("theme-switcher");
  await switcher.getByLabel("Theme").selectOption("dark");
  await switcher.getByTestId("theme-apply").click();
  await ready(page, info);
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  await expect.poll(background).toBe("rgb(15, 23, 42)");
  await page.reload();
  await ready(page, info);
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  expect(await background()).toBe("rgb(15, 23, 42)");
  // Back to the system's preference (dark here now).
  await page.emulateMedia({ colorScheme: "dark" });
  await page.getByTestId("theme-switcher").getByLabel("Theme").selectOption("system");
  await page.getByTestId("theme-switcher").getByTestId("theme-apply").click();
  await ready(page, info);
  await expect(page.locator("html")).toHaveAttribute("data-theme", "system");
  await expect.poll(background).toBe("rgb(15, 23, 42)");
});
