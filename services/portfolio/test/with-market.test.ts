/**
 * The portfolio service with the real market (and universe) served in this process, as the
 * launcher runs them, on the real PostgreSQL and Redis: portfolios valued at market's quotes,
 * the performance series rebuilt from the fill ledger and market's closes, and WatchPortfolio.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Effect, Fiber, Layer, Stream } from "effect";
import { metrics } from "@meridian/kit";
import { layerLocalServices } from "@meridian/kit/client";
import { postgresDatabase } from "@meridian/kit/testing";
import { layerMarket, marketService } from "@meridian/market";
import { BarSchema } from "@meridian/sdk/market";
import { RiskProfile, type PortfolioState } from "@meridian/sdk/portfolio";
import { layerUniverse, universeService } from "@meridian/universe";
import { eventually, orderFilled, startFillProducer, type FillProducer } from "./fills-fixture.js";
import { startHarness, type Harness } from "./harness.js";
import { MarketClient } from "../src/prices.js";

let harness: Harness;
let producer: FillProducer;

beforeAll(async () => {
  const database = await postgresDatabase();
  const data = { databaseUrl: database.env.DATABASE_URL!, dataDir: "" };
  const universe = layerLocalServices([universeService]).pipe(Layer.provide(layerUniverse(data)));
  const market = layerLocalServices([marketService]).pipe(Layer.provide(layerMarket({ ...data, seed: "off" })), Layer.provide(universe));
  harness = await startHarness({ database, local: market });
  producer = await startFillProducer(harness.databaseUrl, harness.bus);
  // Closes: AAPL $150.00, $155.00, $160.00, $158.50; MSFT $300.00, $310.00, $305.00, $320.25 (Nov 2–5, 2026).
  await ingest("AAPL", [150_000_000n, 155_000_000n, 160_000_000n, 158_500_000n]);
  await ingest("MSFT", [300_000_000n, 310_000_000n, 305_000_000n, 320_250_000n]);
}, 120_000);

afterAll(async () => {
  await producer?.dispose();
  await harness?.dispose();
});

const days = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"];
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);

async function ingest(symbol: string, closes: bigint[]) {
  const bars = closes.map((close, i) =>
    create(BarSchema, { date: days[i]!, openMicros: close, highMicros: close, lowMicros: close, closeMicros: close, volume: 1_000n }),
  );
  await harness.runtime.runPromise(Effect.flatMap(Effect.service(MarketClient), (market) => market.ingestBars({ symbol, bars })));
}

async function ingestOne(symbol: string, date: string, close: bigint) {
  const bars = [create(BarSchema, { date, openMicros: close, highMicros: close, lowMicros: close, closeMicros: close, volume: 1_000n })];
  await harness.runtime.runPromise(Effect.flatMap(Effect.service(MarketClient), (market) => market.ingestBars({ symbol, bars })));
}

// Calls this process made to market's GetQuotes, from the kit's client metrics.
function quoteCalls(): number {
  return metrics
    .render()
    .split("\n")
    .filter((line) => line.startsWith("rpc_client_requests_total{") && line.includes('downstream="market"') && line.includes("GetQuotes"))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

let accountId: string;

describe("with market", () => {
  test("the portfolio is valued at the latest quotes", async () => {
    const { account } = await run(
      harness.client.openAccount({ owner: "hank", initialCashMinor: 1_000_000n, riskProfile: RiskProfile.CONSERVATIVE, idempotencyKey: "h-1" }),
    );
    accountId = account!.accountId;
    await producer.write([
      // buy 10 AAPL @ $150.00 + $1.00 fee on Nov 2: cash −150,100
      orderFilled({ accountId, fillId: "h-1", symbol: "AAPL", side: "buy", quantity: 10n, priceMicros: 150_000_000n, feeMinor: 100n, filledAt: new Date("2026-11-02T20:00:00Z") }),
      // buy 3 MSFT @ $310.00 on Nov 3: cash −93,000
      orderFilled({ accountId, fillId: "h-2", symbol: "MSFT", side: "buy", quantity: 3n, priceMicros: 310_000_000n, filledAt: new Date("2026-11-03T20:00:00Z") }),
      // sell 4 AAPL @ $160.00 on Nov 4: cash +64,000; cost sold 150,000 × 4/10 = 60,000
      orderFilled({ accountId, fillId: "h-3", symbol: "AAPL", side: "sell", quantity: 4n, priceMicros: 160_000_000n, filledAt: new Date("2026-11-04T20:00:00Z") }),
    ]);
    await eventually("three fills", async () => (await run(harness.client.getPortfolio({ accountId }))).portfolio!.fillsApplied === 3n);
    const { portfolio } = await run(harness.client.getPortfolio({ accountId }));
    expect(portfolio).toMatchObject({
      cashMinor: 820_900n, // 1,000,000 − 150,100 − 93,000 + 64,000
      positionsValueMinor: 191_175n, // 6 × 158.50 = 95,100 + 3 × 320.25 = 96,075
      totalValueMinor: 1_012_075n,
      unrealizedPnlMinor: 8_175n, // (95,100 − 90,000) + (96,075 − 93,000)
      realizedPnlMinor: 3_900n, // −100 + (64,000 − 60,000)
      valuedAsOf: "2026-11-05",
      pricesStale: false,
    });
    expect(portfolio!.positions.map((p) => [p.symbol, p.quantity, p.lastPriceMicros, p.marketValueMinor, p.costBasisMinor])).toEqual([
      ["AAPL", 6n, 158_500_000n, 95_100n, 90_000n],
      ["MSFT", 3n, 320_250_000n, 96_075n, 93_000n],
    ]);
  });

  test("quotes are reused until market ingests bars for the symbol", async () => {
    const before = quoteCalls();
    for (let i = 0; i < 5; i++) await run(harness.client.getPortfolio({ accountId }));
    expect(quoteCalls()).toBe(before);
    // A new close for AAPL, Nov 6 ($162.00): the cached quote is dropped, the next read asks market
    // (the quotes' TTL here is 60 s: only the invalidation can explain the new price).
    await ingestOne("AAPL", "2026-11-06", 162_000_000n);
    await eventually("the new AAPL quote", async () => {
      const { portfolio } = await run(harness.client.getPortfolio({ accountId }));
      return portfolio!.positions[0]!.lastPriceMicros === 162_000_000n;
    });
    const { portfolio } = await run(harness.client.getPortfolio({ accountId }));
    expect(portfolio!.positions[0]).toMatchObject({ symbol: "AAPL", marketValueMinor: 97_200n });
    expect(portfolio!.valuedAsOf).toBe("2026-11-05"); // MSFT's quote is still Nov 5's
    expect(quoteCalls()).toBeGreaterThan(before);
  });

  test("GetPerformance values each day's holdings at that day's close", async () => {
    const { points, totalReturn } = await run(harness.client.getPerformance({ accountId, from: "2026-11-02", to: "2026-11-05" }));
    // Nov 2: 849,900 + 10 × 150 → 999,900; Nov 3: 756,900 + 155,000 + 93,000 → 1,004,900;
    // Nov 4: 820,900 + 6 × 160 + 3 × 305 → 1,008,400; Nov 5: 820,900 + 95,100 + 96,075 → 1,012,075.
    expect(points.map((p) => [p.date, p.totalValueMinor])).toEqual([
      ["2026-11-02", 999_900n],
      ["2026-11-03", 1_004_900n],
      ["2026-11-04", 1_008_400n],
      ["2026-11-05", 1_012_075n],
    ]);
    expect(totalReturn).toBeCloseTo(12_175 / 999_900, 12);
    // Defaults: from the day the account opened (today, after the last close) to the latest close:
    // one point, today, at the latest closes (AAPL's of Nov 6: 820,900 + 6 × 162.00 + 96,075).
    const defaults = await run(harness.client.getPerformance({ accountId }));
    expect(defaults.points.map((p) => p.totalValueMinor)).toEqual([820_900n + 97_200n + 96_075n]);
  });

  test("WatchPortfolio sends the portfolio, then the new one after a fill, until cancelled", async () => {
    const seen: PortfolioState[] = [];
    const fiber = Effect.runFork(
      harness.client.watchPortfolio({ accountId }).pipe(
        Stream.runForEach((r) => Effect.sync(() => seen.push(r.portfolio!))),
      ),
    );
    await eventually("the first state", async () => seen.length === 1);
    expect(seen[0]!.fillsApplied).toBe(3n);
    // sell the 3 MSFT @ $320.00: the position closes
    await producer.write([orderFilled({ accountId, fillId: "h-4", symbol: "MSFT", side: "sell", quantity: 3n, priceMicros: 320_000_000n })]);
    await eventually("the state after the fill", async () => seen.length === 2);
    expect(seen[1]!.fillsApplied).toBe(4n);
    expect(seen[1]!.positions.map((p) => p.symbol)).toEqual(["AAPL"]);
    expect(seen[1]!.cashMinor).toBe(820_900n + 96_000n);
    const exit = await Effect.runPromise(Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber))));
    expect(exit._tag).toBe("Failure"); // interrupted, as cancelled
    expect(seen).toHaveLength(2);
  });

  test("a watch of an unknown account fails at once with UnknownAccount", async () => {
    const error = await run(
      Effect.flip(Stream.runDrain(harness.client.watchPortfolio({ accountId: "0193a5e0-7c1a-7b2e-9f00-123456789abc" }))),
    );
    expect(error._tag).toBe("UnknownAccount");
  });
});
