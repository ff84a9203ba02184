/**
 * The SDK in a real browser: a page bundled from the browser entry
 * (Bun.build, target "browser") is served on localhost and calls a kit
 * server from Debian's Chromium, driven by playwright-core. CORS on the server
 * lets the page's origin in and keeps another origin out. Skips, saying why,
 * only when Chromium is missing and cannot be installed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { startServer, testUniverse, type Seen, type TestServer } from "../../packages/kit/src/client/test-servers.js";
import { chromiumPath, ensureChromium } from "../../packages/kit/src/testing/chromium.js";

const available = ensureChromium();

/** A static server for the page: `/` the HTML, `/page.js` the bundle. */
function servePage(bundle: string) {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>Meridian SDK</title></head>
<body><script type="module" src="/page.js"></script></body></html>`;
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/page.js") return new Response(bundle, { headers: { "content-type": "text/javascript" } });
      return new Response(html, { headers: { "content-type": "text/html" } });
    },
  });
}

describe.skipIf(!available)("the SDK in Chromium", () => {
  let bundle = "";
  let allowedPage: ReturnType<typeof servePage>;
  let otherPage: ReturnType<typeof servePage>;
  let api: TestServer;
  let context: BrowserContext;
  let userDataDir = "";
  const seen: Seen[] = [];

  beforeAll(async () => {
    const built = await Bun.build({ entrypoints: [join(import.meta.dir, "browser-page.ts")], target: "browser" });
    if (!built.success) throw new AggregateError(built.logs, "the page did not build");
    bundle = await built.outputs[0]!.text();
    allowedPage = servePage(bundle);
    otherPage = servePage(bundle);
    api = await startServer([testUniverse("u", seen)], { cors: [`http://127.0.0.1:${allowedPage.port}`] });
    userDataDir = mkdtempSync(join(tmpdir(), "meridian-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await api?.stop();
    allowedPage?.stop(true);
    otherPage?.stop(true);
    if (userDataDir !== "") rmSync(userDataDir, { recursive: true, force: true });
  });

  /** Opens the page from `origin`'s server and returns the text of each check. */
  async function runPage(page: ReturnType<typeof servePage>): Promise<Record<string, string>> {
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on("pageerror", (e) => errors.push(e.message));
    try {
      await tab.goto(`http://127.0.0.1:${page.port}/?api=${encodeURIComponent(api.httpUrl)}`);
      await tab.waitForSelector("body[data-done=true]", { timeout: 20_000 }).catch(() => {
        throw new Error(`the page did not finish: ${errors.join("; ") || (tab.isClosed() ? "closed" : "no error")}`);
      });
      return await tab.$$eval("p", (elements) => Object.fromEntries(elements.map((e) => [e.id, e.textContent ?? ""])));
    } finally {
      await tab.close();
    }
  }

  test("the browser bundle has no Node built-ins", () => {
    expect(bundle).not.toMatch(/from\s*["']node:|require\(["']node:/);
  });

  test("from an allowed origin: calls succeed and a domain error arrives typed, in both faces", async () => {
    const before = seen.length;
    const shown = await runPage(allowedPage);
    expect(shown).toEqual({
      found: "AAPL Apple Inc.",
      "domain-error": "UnknownSymbol symbol=NOPE code=5",
      "effect-domain-error": "caught UnknownSymbol ZZZ",
      upsert: "created=true",
    });
    expect(seen.length - before).toBe(3); // the getSecurity calls reached the handler
  });

  test("from another origin: the preflight is refused and no call reaches the service", async () => {
    const before = seen.length;
    const shown = await runPage(otherPage);
    expect(shown.found).toStartWith("threw ConnectError: [unavailable] cannot reach");
    expect(shown["domain-error"]).toBe("Unavailable");
    expect(seen.length).toBe(before);
  });
});

if (!available) {
  const why = `${chromiumPath} is missing and \`apt-get install chromium\` failed`;
  console.warn(`browser test skipped: ${why}`);
  test.skip(`the SDK in Chromium: SKIPPED, ${why}`, () => {});
}
