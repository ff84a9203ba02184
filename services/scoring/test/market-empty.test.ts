/**
 * Scoring over a market with no data yet (MARKET_SEED=off): a symbol without
 * bars is UnknownSymbols; once it has enough bars it is scored, with the neutral
 * weights, because the market cannot classify a regime without its index.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect } from "effect";
import { Market, Regime } from "@meridian/sdk/market";
import { weightsFor } from "../src/domain/weights.js";
import { failureOf, startScoring, type ScoringUnderTest } from "./in-process.js";
import { localMarket } from "./market.js";

let scoring: ScoringUnderTest;

beforeAll(async () => {
  scoring = await startScoring({ market: localMarket(undefined, "off") });
}, 120_000);

afterAll(async () => {
  await scoring?.dispose();
}, 30_000);

describe("an empty market", () => {
  test("no bars: UnknownSymbols; enough bars and no regime yet: scored with the neutral weights", async () => {
    const none = await failureOf(scoring.client.scoreSecurity({ symbol: "AAPL" }));
    expect(none._tag).toBe("UnknownSymbols");
    const market = await Effect.runPromise(Effect.flip(scoring.clientOf(Market).getCurrentRegime({})));
    expect(market._tag).toBe("InsufficientHistory");

    // 300 weekdays of a steady 0.1% daily rise.
    const bars = [];
    let day = Date.parse("2024-01-01T00:00:00Z");
    for (let i = 0; bars.length < 300; day += 86_400_000) {
      if ([0, 6].includes(new Date(day).getUTCDay())) continue;
      const price = BigInt(Math.round(100_000_000 * 1.001 ** i++));
      bars.push({ date: new Date(day).toISOString().slice(0, 10), openMicros: price, highMicros: price, lowMicros: price, closeMicros: price, volume: 1n });
    }
    await Effect.runPromise(scoring.clientOf(Market).ingestBars({ symbol: "AAPL", bars }));
    const { score } = await Effect.runPromise(scoring.client.scoreSecurity({ symbol: "AAPL" }));
    expect(score!.regime).toBe(Regime.UNSPECIFIED);
    expect(score!.momentum3m!.weight).toBe(weightsFor(Regime.UNSPECIFIED).momentum3m);
    expect(score!.momentum3m!.value).toBeCloseTo(1.001 ** 63 - 1, 6);
    expect(score!.maxDrawdown!.value).toBe(0);
    expect(score!.asOf).toBe(bars.at(-1)!.date);
  }, 30_000);
});
