/**
 * The status page in a real browser: Debian's Chromium, driven by
 * playwright-core, opens the page the gateway serves in front of the whole
 * platform (every service in this process), is given the dev key, shows every
 * service healthy and the account's portfolio, runs a trading cycle with its
 * button and shows the resulting orders and fills arriving over WatchEvents.
 * A screenshot of the page after the cycle is saved; its path is printed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { generateApiKey } from "../src/domain/api-keys.js";
import { chromiumPath, ensureChromium } from "@meridian/kit/testing";
import { startPlatform, type Platform } from "./platform.js";

const available = ensureChromium();
const devKey = generateApiKey();
const screenshotPath = join(tmpdir(), "meridian-status-page.png");

describe.skipIf(!available)("the status page in Chromium", () => {
  let platform: Platform;
  let context: BrowserContext;
  let userDataDir = "";

  beforeAll(async () => {
    platform = await startPlatform({ devApiKey: devKey });
    userDataDir = mkdtempSync(join(tmpdir(), "meridian-status-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      viewport: { width: 1280, height: 1000 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await platform?.stop();
    if (userDataDir !== "") rmSync(userDataDir, { recursive: true, force: true });
  }, 30_000);

  test("asks for a key, shows the services healthy and the portfolio, runs a cycle and shows its events live", async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const explain = () => `page errors: ${errors.join("; ") || "none"}; shown error: ${JSON.stringify(shownError)}`;
    let shownError = "";
    try {
      await page.goto(`${platform.url}/`);
      expect(page.url()).toBe(`${platform.url}/status/`);
      await page.waitForSelector("body[data-state=needs-key]", { timeout: 20_000 });

      await page.fill("#api-key", devKey);
      await page.click("#key-form button[type=submit]");
      await page.waitForSelector("body[data-state=ready]", { timeout: 30_000 }).catch(async (e) => {
        shownError = (await page.textContent("#error")) ?? "";
        throw new Error(`${e}: ${explain()}`);
      });
      expect(await page.evaluate(() => localStorage.getItem("meridian.apiKey"))).toBe(devKey);

      // Every service healthy.
      await page.waitForSelector("body[data-healthy=true]", { timeout: 20_000 });
      const states = await page.$$eval("#services tbody tr", (rows) => rows.map((r) => [r.getAttribute("data-service"), r.getAttribute("data-state")]));
      expect(states).toEqual(["gateway", "universe", "market", "scoring", "portfolio", "trading", "planning"].map((s) => [s, "serving"]));

      // The account the page opened for the key's owner, with its cash and no positions yet.
      expect(await page.textContent("#summary-cash")).toBe("$100,000.00");
      expect(await page.$$("#positions tbody tr")).toHaveLength(0);

      // Live events: the stream is following before the cycle runs.
      await page.waitForSelector("body[data-watch=open]", { timeout: 20_000 });
      await page.click("#run-cycle");
      await page.waitForSelector("body[data-cycle=done]", { timeout: 45_000 }).catch(async (e) => {
        shownError = (await page.textContent("#error")) ?? "";
        throw new Error(`${e}: ${explain()}`);
      });
      const orders = Number(await page.getAttribute("body", "data-orders"));
      expect(orders).toBeGreaterThan(0);
      expect(await page.textContent("#cycle-result")).toMatch(new RegExp(`^regime [A-Z_]+, plan [\\w-]+: ${orders} trades, ${orders} orders \\(${orders} filled\\)$`));

      // Each order's placement and fill arrive over WatchEvents, and the portfolio shows the positions.
      await page.waitForFunction(
        (n) => document.querySelectorAll("#events li[data-kind=order_filled]").length >= n && document.querySelectorAll("#events li[data-kind=order_placed]").length >= n,
        orders,
        { timeout: 30_000 },
      );
      await page.waitForFunction((n) => document.querySelectorAll("#positions tbody tr").length > 0 && document.body.dataset.fills === String(n), orders, { timeout: 30_000 });
      const filledText = await page.$$eval("#events li[data-kind=order_filled]", (items) => items.map((i) => i.textContent ?? ""));
      expect(filledText.every((t) => /^order filled(BUY|SELL) \d+ [A-Z.^]+ at \$[\d,]+\.\d{2} = \$[\d,]+\.\d{2} /.test(t))).toBe(true);
      expect(await page.textContent("#summary-cash")).not.toBe("$100,000.00");

      await page.screenshot({ path: screenshotPath, fullPage: true });
      console.log(`status page screenshot: ${screenshotPath}`);
      expect(statSync(screenshotPath).size).toBeGreaterThan(10_000);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 120_000);
});

if (!available) {
  const why = `${chromiumPath} is missing and \`apt-get install chromium\` failed`;
  console.warn(`status page test skipped: ${why}`);
  test.skip(`the status page in Chromium: SKIPPED, ${why}`, () => {});
}
