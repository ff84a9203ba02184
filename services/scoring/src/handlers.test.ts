/**
 * Scoring's handlers in-process with the real universe, and a market that is
 * down (nothing listens at its URL): bad input is refused with every field
 * named before anything is called; a market that cannot answer gives
 * `unavailable`, then, with the breaker open, without calling it at all.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code } from "@connectrpc/connect";
import type { Effect } from "effect";
import type { Security } from "@meridian/sdk/universe";
import { activeSecurities } from "./universe-data.js";
import { Sector } from "@meridian/sdk/universe";
import { closedPortUrl, failureOf, startScoring, violatedFields, type ScoringUnderTest } from "../test/in-process.js";

let scoring: ScoringUnderTest;

beforeAll(async () => {
  scoring = await startScoring({ env: { MERIDIAN_MARKET_URL: await closedPortUrl() } });
}, 60_000);

afterAll(async () => {
  await scoring?.dispose();
});

describe("bad input is InvalidArgument naming each field", () => {
  test("ScoreSecurity: an invalid symbol", async () => {
    const error = await failureOf(scoring.client.scoreSecurity({ symbol: "not a symbol" }));
    expect(violatedFields(error)).toEqual(["symbol"]);
  }, 20_000);

  test("BatchScore: empty, 501 symbols, duplicates and invalid symbols", async () => {
    expect(violatedFields(await failureOf(scoring.client.batchScore({ symbols: [] })))).toEqual(["symbols"]);
    const oversized = Array.from({ length: 501 }, (_, i) => `S${i}`);
    expect(violatedFields(await failureOf(scoring.client.batchScore({ symbols: oversized })))).toEqual(["symbols"]);
    const error = await failureOf(scoring.client.batchScore({ symbols: ["AAPL", "aapl", "MSFT", "AAPL", "X Y"] }));
    expect(violatedFields(error)).toEqual(["symbols[1]", "symbols[3]", "symbols[4]"]);
    expect(String(error.message)).toContain("symbols[3] repeats symbols[0]");
  }, 20_000);

  test("RankUniverse: top_n outside 1..500 and an unknown sector", async () => {
    expect(violatedFields(await failureOf(scoring.client.rankUniverse({ topN: 0 })))).toEqual(["top_n"]);
    expect(violatedFields(await failureOf(scoring.client.rankUniverse({ topN: 501, sector: 99 as Sector })))).toEqual([
      "top_n",
      "sector",
    ]);
  }, 20_000);
});

describe("universe listing", () => {
  test("every page of active securities is read, each once, in symbol order", async () => {
    const read = (pageSize: number) =>
      scoring.runtime.runPromise(activeSecurities(undefined, pageSize) as Effect.Effect<ReadonlyArray<Security>, unknown, never>);
    const onePage = await read(500);
    const bySeven = await read(7);
    expect(onePage.length).toBeGreaterThan(7 * 5);
    expect(bySeven.map((s) => s.symbol)).toEqual(onePage.map((s) => s.symbol));
    expect(onePage.every((s) => s.active)).toBe(true);
  }, 20_000);
});

describe("market down", () => {
  test("every RPC answers unavailable naming the market; once the breaker opens, without calling it", async () => {
    const reasons: string[] = [];
    for (let i = 0; i < 4; i++) {
      const error = await failureOf(scoring.client.scoreSecurity({ symbol: "AAPL" }));
      expect(error._tag).toBe("Unavailable");
      expect(error.code).toBe(Code.Unavailable);
      reasons.push((error as unknown as { reason: string }).reason);
    }
    expect(reasons.every((r) => r.startsWith("market GetCurrentRegime:"))).toBe(true);
    // Two attempts per call (one retry): the breaker opens after 5 refusals, so the 4th call is refused by it.
    expect(reasons.at(-1)).toContain("CircuitOpen");
    for (const call of [
      scoring.client.batchScore({ symbols: ["AAPL", "MSFT"] }) as Effect.Effect<unknown, { _tag: string }>,
      scoring.client.rankUniverse({ topN: 5, sector: Sector.ENERGY }),
    ]) {
      const error = await failureOf(call);
      expect(error._tag).toBe("Unavailable");
      expect((error as unknown as { reason: string }).reason).toContain("CircuitOpen");
    }
  }, 20_000);
});
