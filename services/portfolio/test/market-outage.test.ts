/**
 * Market as a real process that goes away: a portfolio read still answers, valued at the last
 * quote this service saw (not the older fill price), marked stale; and again fresh once market is
 * back.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { Effect } from "effect";
import { postgresDatabase, startService, type RunningService, type TestDatabase } from "@meridian/kit/testing";
import { createEffectClient } from "@meridian/sdk";
import { BarSchema, Market } from "@meridian/sdk/market";
import { RiskProfile } from "@meridian/sdk/portfolio";
import { eventually, orderFilled, startFillProducer, type FillProducer } from "./fills-fixture.js";
import { startHarness, type Harness } from "./harness.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
let marketData: TestDatabase;
let universe: RunningService;
let market: RunningService;
let harness: Harness;
let producer: FillProducer;

const startMarket = (port = "0") =>
  startService({
    entry: "services/market/src/main.ts",
    cwd: repoRoot,
    env: { ...marketData.env, REDIS_URL: undefined, MARKET_SEED: "off", MERIDIAN_UNIVERSE_URL: universe.httpUrl, HTTP_PORT: port },
    startTimeoutMs: 120_000,
  });

beforeAll(async () => {
  marketData = await postgresDatabase();
  universe = await startService({ entry: "services/universe/src/main.ts", cwd: repoRoot, env: { ...marketData.env, REDIS_URL: undefined }, startTimeoutMs: 90_000 });
  market = await startMarket();
  // Quotes are not reused here (TTL 1 ms): every read asks market, so only the fallback can answer.
  harness = await startHarness({ marketUrl: market.httpUrl, options: { quoteTtlMs: 1, quoteTimeoutMs: 500 } });
  producer = await startFillProducer(harness.databaseUrl, harness.bus);
}, 180_000);

afterAll(async () => {
  await producer?.dispose();
  await harness?.dispose();
  await market?.stop();
  await universe?.stop();
  await marketData?.drop();
}, 60_000);

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);

test("market down: the last quote seen, marked stale; market back: fresh again", async () => {
  const marketClient = createEffectClient(Market, { baseUrl: market.httpUrl });
  const bar = (date: string, close: bigint) => create(BarSchema, { date, openMicros: close, highMicros: close, lowMicros: close, closeMicros: close, volume: 1n });
  await run(marketClient.ingestBars({ symbol: "AAPL", bars: [bar("2026-11-04", 155_000_000n), bar("2026-11-05", 158_500_000n)] }));
  const { account } = await run(
    harness.client.openAccount({ owner: "ivy", initialCashMinor: 1_000_000n, riskProfile: RiskProfile.BALANCED, idempotencyKey: "i-1" }),
  );
  const accountId = account!.accountId;
  // 10 AAPL @ $150.00 on Nov 2
  await producer.write([orderFilled({ accountId, fillId: "i-1", side: "buy", quantity: 10n, priceMicros: 150_000_000n, filledAt: new Date("2026-11-02T20:00:00Z") })]);
  await eventually("the fill", async () => (await run(harness.client.getPortfolio({ accountId }))).portfolio!.fillsApplied === 1n);

  const fresh = (await run(harness.client.getPortfolio({ accountId }))).portfolio!;
  expect(fresh).toMatchObject({ pricesStale: false, valuedAsOf: "2026-11-05", positionsValueMinor: 158_500n });

  const marketPort = new URL(market.httpUrl).port;
  expect(await market.stop()).toBe(0);
  // Several reads: the first ones through the client's retries, the later ones refused by its open breaker.
  for (let i = 0; i < 7; i++) {
    const down = (await run(harness.client.getPortfolio({ accountId }))).portfolio!;
    // Nov 5's $158.50 as last seen, not the fill's $150.00 of Nov 2.
    expect(down).toMatchObject({ pricesStale: true, valuedAsOf: "2026-11-05", positionsValueMinor: 158_500n, cashMinor: 850_000n });
    expect(down.positions[0]!.lastPriceMicros).toBe(158_500_000n);
  }

  // Back on the same port (the URL portfolio was configured with), with a new close.
  market = await startMarket(marketPort);
  await run(createEffectClient(Market, { baseUrl: market.httpUrl }).ingestBars({ symbol: "AAPL", bars: [bar("2026-11-06", 160_000_000n)] }));
  await eventually("fresh quotes again", async () => !(await run(harness.client.getPortfolio({ accountId }))).portfolio!.pricesStale, 30_000);
  const back = (await run(harness.client.getPortfolio({ accountId }))).portfolio!;
  expect(back).toMatchObject({ pricesStale: false, valuedAsOf: "2026-11-06", positionsValueMinor: 160_000n });
}, 120_000);
