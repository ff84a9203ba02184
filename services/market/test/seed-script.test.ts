/**
 * `bun run seed` (src/seed.ts) against a running market that did not seed itself
 * (MARKET_SEED=off): it loads the dataset through IngestBars, and a second run changes nothing
 * but reports every bar as updated.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import { Effect } from "effect";
import { createEffectClient, createFetchTransport } from "@meridian/sdk";
import { Market, Regime } from "@meridian/sdk/market";
import { repoRoot, startMarketProcesses, type MarketProcesses } from "./market-process.js";

const seedScript = fileURLToPath(new URL("../src/seed.ts", import.meta.url));
let processes: MarketProcesses;

beforeAll(async () => {
  processes = await startMarketProcesses({ MARKET_SEED: "off" });
}, 240_000);

afterAll(async () => {
  await processes?.stop();
}, 60_000);

async function seed(): Promise<{ exitCode: number; output: string }> {
  const child = Bun.spawn(["bun", "run", seedScript], {
    cwd: repoRoot,
    env: { ...process.env, MERIDIAN_MARKET_URL: processes.market.httpUrl },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { exitCode, output: stdout + stderr };
}

test("the seed script loads the dataset through the API, and running it again is harmless", async () => {
  const client = createEffectClient(Market, { transport: createFetchTransport({ baseUrl: processes.market.httpUrl }) });
  const before = await Effect.runPromise(Effect.flip(client.getCurrentRegime({})));
  expect(before._tag).toBe("InsufficientHistory");

  const first = await seed();
  expect(first.exitCode).toBe(0);
  expect(first.output).toMatch(/43 symbols, 78561 bars inserted, 0 updated/);
  const { quotes } = await Effect.runPromise(client.getQuotes({ symbols: ["AAPL", "^MERIDIAN"] }));
  expect(quotes.map((q) => q.date)).toEqual(["2025-12-31", "2025-12-31"]);
  const { reading } = await Effect.runPromise(client.getCurrentRegime({}));
  expect(reading!.regime).not.toBe(Regime.UNSPECIFIED);

  const second = await seed();
  expect(second.exitCode).toBe(0);
  expect(second.output).toMatch(/43 symbols, 0 bars inserted, 78561 updated/);
  const again = await Effect.runPromise(client.getQuotes({ symbols: ["AAPL", "^MERIDIAN"] }));
  expect(again.quotes).toEqual(quotes);
}, 120_000);
