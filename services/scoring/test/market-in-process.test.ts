/**
 * Scoring with the real market and universe in-process, its cache and event bus
 * on the real Redis and the services' data on the real PostgreSQL: scores agree
 * with the domain computed on market's bars; a second read is a cache hit that
 * does not call GetBars; IngestBars invalidates through bars.ingested; batches
 * name every unknown symbol and bound their concurrency; rankings are ordered.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect } from "effect";
import { Cache, getOrFetch } from "@meridian/kit/cache";
import { Market, Regime, type Bar } from "@meridian/sdk/market";
import { InsufficientHistory, type Score } from "@meridian/sdk/scoring";
import { Sector, Universe } from "@meridian/sdk/universe";
import { scoreSeries, weigh } from "../src/domain/score.js";
import { weightsFor } from "../src/domain/weights.js";
import { scoreKey, scoreTtlSeconds } from "../src/score-cache.js";
import { InFlightProbe, failureOf, marketCalls, redisBacking, scoreCacheLookups, startScoring, type ScoringUnderTest } from "./in-process.js";
import { localMarket } from "./market.js";

const redis = redisBacking();
const getBars = new InFlightProbe("getBars");
let scoring: ScoringUnderTest;
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);

beforeAll(async () => {
  // A longer market deadline than the 2 s default: the machine is shared and often loaded, and
  // these tests are about the answers, not the deadline (market-faults.test.ts is).
  scoring = await startScoring({
    market: localMarket((b) => getBars.binding(b)),
    backing: redis.layer,
    env: { MERIDIAN_MARKET_TIMEOUT_MS: "8000" },
  });
}, 120_000);

afterAll(async () => {
  await scoring?.dispose();
  await redis.cleanup();
}, 30_000);

const market = () => scoring.clientOf(Market);
const universe = () => scoring.clientOf(Universe);

function expectWellFormed(score: Score, regime: Regime) {
  expect(score.regime).toBe(regime);
  expect(score.composite).toBeGreaterThanOrEqual(0);
  expect(score.composite).toBeLessThanOrEqual(100);
  const components = [score.momentum3m, score.momentum12m, score.volatility, score.maxDrawdown, score.trendStrength];
  for (const c of components) {
    expect(c!.score).toBeGreaterThanOrEqual(0);
    expect(c!.score).toBeLessThanOrEqual(100);
  }
  expect(components.reduce((sum, c) => sum + c!.weight, 0)).toBeCloseTo(1, 12);
  expect(score.composite).toBeCloseTo(
    components.reduce((sum, c) => sum + c!.weight * c!.score, 0),
    10,
  );
}

describe("scoring over the real market", () => {
  test("ScoreSecurity is the domain's score of market's closes, weighted for market's current regime", async () => {
    const { reading } = await run(market().getCurrentRegime({}));
    const { bars } = await run(market().getBars({ symbol: "MSFT" }));
    const expected = scoreSeries(
      "MSFT",
      bars.map((b: Bar) => ({ date: b.date, close: Number(b.closeMicros) / 1e6 })),
      reading!.regime,
    );
    if (expected instanceof InsufficientHistory) throw expected;
    const { score } = await run(scoring.client.scoreSecurity({ symbol: "MSFT" }));
    expect(score).toEqual(expected);
    expect(score!.asOf).toBe(bars.at(-1)!.date);
    expectWellFormed(score!, reading!.regime);
  }, 30_000);

  test("a second ScoreSecurity is a cache hit: market's GetBars is not called again", async () => {
    await run(scoring.client.scoreSecurity({ symbol: "JPM" }));
    const bars = marketCalls("GetBars");
    const hits = scoreCacheLookups("hit");
    const again = await run(scoring.client.scoreSecurity({ symbol: "JPM" }));
    expect(marketCalls("GetBars")).toBe(bars);
    expect(scoreCacheLookups("hit")).toBe(hits + 1);
    expect(again.score!.symbol).toBe("JPM");
  }, 30_000);

  test("a cached score is weighed for the current regime, whatever regime it was cached under", async () => {
    const { reading } = await run(market().getCurrentRegime({}));
    const other = reading!.regime === Regime.CRISIS ? Regime.STRONG_BULL : Regime.CRISIS;
    // Cache a score under another regime, with weights that regime's row gives.
    const { score: fresh } = await run(scoring.client.scoreSecurity({ symbol: "XOM" }));
    await scoring.runtime.runPromise(
      Effect.gen(function* () {
        const cache = yield* Cache;
        yield* cache.invalidate(scoreKey("XOM"));
        yield* getOrFetch(scoreKey("XOM"), scoreTtlSeconds, Effect.succeed(weigh(fresh!, other)));
      }),
    );
    const bars = marketCalls("GetBars");
    const { score } = await run(scoring.client.scoreSecurity({ symbol: "XOM" }));
    expect(marketCalls("GetBars")).toBe(bars); // served from the cache
    expect(score!.regime).toBe(reading!.regime);
    expect(score!.volatility!.weight).not.toBe(weightsFor(other).volatility);
    expect(score!.volatility!.weight).toBe(weightsFor(reading!.regime).volatility);
    expect(score).toEqual(fresh);
  }, 30_000);

  test("IngestBars invalidates the symbol's cached score through meridian.market.bars.ingested", async () => {
    const { score: before } = await run(scoring.client.scoreSecurity({ symbol: "KO" }));
    const { bars } = await run(market().getBars({ symbol: "KO" }));
    const last = bars.at(-1)!;
    const next = nextWeekday(last.date);
    const close = last.closeMicros * 3n; // a jump the 3-month momentum cannot miss
    await run(
      market().ingestBars({
        symbol: "KO",
        bars: [{ date: next, openMicros: close, highMicros: close, lowMicros: close, closeMicros: close, volume: 1000n }],
      }),
    );
    const calls = marketCalls("GetBars");
    let after: Score | undefined;
    for (let waitedMs = 0; waitedMs < 15_000; waitedMs += 100) {
      after = (await run(scoring.client.scoreSecurity({ symbol: "KO" }))).score;
      if (after!.asOf === next) break;
      await Bun.sleep(100);
    }
    expect(after!.asOf).toBe(next);
    expect(after!.momentum3m!.value).toBeGreaterThan(before!.momentum3m!.value + 1);
    expect(marketCalls("GetBars")).toBeGreaterThan(calls);
  }, 30_000);

  test("BatchScore answers in the order asked, at most 16 GetBars in flight", async () => {
    const { securities } = await run(universe().listSecurities({ page: { pageSize: 500 } }));
    const symbols = securities.map((s) => s.symbol).reverse();
    getBars.max = 0;
    const { scores } = await run(scoring.client.batchScore({ symbols }));
    expect(scores.map((s) => s.symbol)).toEqual(symbols);
    expect(getBars.max).toBeGreaterThan(1);
    expect(getBars.max).toBeLessThanOrEqual(16);
  }, 30_000);

  test("BatchScore with unknown symbols fails with UnknownSymbols naming every one, in order", async () => {
    const error = await failureOf(scoring.client.batchScore({ symbols: ["AAPL", "ZZZZ", "MSFT", "QQQQ"] }));
    expect(error._tag).toBe("UnknownSymbols");
    expect((error as unknown as { symbols: string[] }).symbols).toEqual(["ZZZZ", "QQQQ"]);
  }, 30_000);

  test("a security with a short history is InsufficientHistory; one without bars is unknown; neither is ranked", async () => {
    for (const symbol of ["NEWCO", "NOBARS"]) {
      await run(universe().upsertSecurity({ security: { symbol, name: symbol, sector: Sector.ENERGY, currency: "USD", active: true } }));
    }
    const days = weekdaysFrom("2025-06-02", 100);
    await run(
      market().ingestBars({
        symbol: "NEWCO",
        bars: days.map((date, i) => {
          const price = BigInt(10_000_000 + i * 10_000);
          return { date, openMicros: price, highMicros: price, lowMicros: price, closeMicros: price, volume: 100n };
        }),
      }),
    );
    const short = await failureOf(scoring.client.scoreSecurity({ symbol: "NEWCO" }));
    expect(short._tag).toBe("InsufficientHistory");
    expect((short as unknown as InsufficientHistory).fields).toEqual({ symbol: "NEWCO", barsNeeded: 253, barsAvailable: 100 });
    const none = await failureOf(scoring.client.scoreSecurity({ symbol: "NOBARS" }));
    expect(none._tag).toBe("UnknownSymbols");
    expect((none as unknown as { symbols: string[] }).symbols).toEqual(["NOBARS"]);
    const ranked = await run(scoring.client.rankUniverse({ topN: 500, sector: Sector.ENERGY }));
    expect(ranked.scores.map((s) => s.symbol)).not.toContain("NEWCO");
    expect(ranked.scores.map((s) => s.symbol)).not.toContain("NOBARS");
    expect(ranked.scores.length).toBeGreaterThan(0);
  }, 30_000);

  test("RankUniverse: the top N active securities, best first, of the sector asked, for market's regime", async () => {
    const { reading } = await run(market().getCurrentRegime({}));
    const all = await run(scoring.client.rankUniverse({ topN: 500 }));
    const { securities } = await run(universe().listSecurities({ active: true, page: { pageSize: 500 } }));
    // Every active security the market can score (all but NEWCO and NOBARS, made above).
    expect(new Set(all.scores.map((s) => s.symbol))).toEqual(
      new Set(securities.map((s) => s.symbol).filter((s) => s !== "NEWCO" && s !== "NOBARS")),
    );
    expect(all.regime).toBe(reading!.regime);
    const composites = all.scores.map((s) => s.composite);
    expect(composites).toEqual([...composites].sort((a, b) => b - a));
    const top5 = await run(scoring.client.rankUniverse({ topN: 5 }));
    expect(top5.scores).toEqual(all.scores.slice(0, 5));
    const tech = await run(scoring.client.rankUniverse({ topN: 3, sector: Sector.TECHNOLOGY }));
    const techSymbols = new Set(securities.filter((s) => s.sector === Sector.TECHNOLOGY).map((s) => s.symbol));
    expect(tech.scores.length).toBe(3);
    expect(tech.scores.every((s) => techSymbols.has(s.symbol))).toBe(true);
    expect(tech.scores).toEqual(all.scores.filter((s) => techSymbols.has(s.symbol)).slice(0, 3));
  }, 30_000);

  test("an inactive security is not ranked", async () => {
    const { security } = await run(universe().getSecurity({ symbol: "GE" }));
    await run(universe().upsertSecurity({ security: { ...security!, active: false } }));
    const ranked = await run(scoring.client.rankUniverse({ topN: 500 }));
    expect(ranked.scores.map((s) => s.symbol)).not.toContain("GE");
    // Still scored when asked for by name.
    expect((await run(scoring.client.scoreSecurity({ symbol: "GE" }))).score!.symbol).toBe("GE");
  }, 30_000);
});

function nextWeekday(date: string): string {
  return weekdaysFrom(addDays(date, 1), 1)[0]!;
}

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

function weekdaysFrom(first: string, count: number): string[] {
  const days: string[] = [];
  for (let at = first; days.length < count; at = addDays(at, 1)) {
    const day = new Date(`${at}T00:00:00Z`).getUTCDay();
    if (day !== 0 && day !== 6) days.push(at);
  }
  return days;
}
