/**
 * A market that hangs or fails, by fault injection on its binding (in-process,
 * real market and universe): scoring answers `unavailable` within the market
 * client's deadline instead of hanging; after repeated failures the breaker
 * answers for the market without calling it; once the market is back, scoring is too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code } from "@connectrpc/connect";
import { Effect } from "effect";
import { Faults } from "@meridian/kit/testing/faults";
import { failureOf, startScoring, type ScoringUnderTest } from "./in-process.js";
import { localMarket } from "./market.js";

const faults = new Faults();
let scoring: ScoringUnderTest;
const timeoutMs = 400;

beforeAll(async () => {
  scoring = await startScoring({
    market: localMarket((b) => faults.binding(b)),
    // A short deadline and breaker pause keep the test quick; the defaults are 2 s and 5 s.
    env: { MERIDIAN_MARKET_TIMEOUT_MS: String(timeoutMs), MERIDIAN_MARKET_BREAKER_OPEN_MS: "1000" },
  });
}, 120_000);

afterAll(async () => {
  await scoring?.dispose();
}, 30_000);

const reasonOf = (error: unknown) => (error as { reason: string }).reason;

describe("market faults", () => {
  test("a market that does not answer: unavailable once the client's deadline passes, sent with that deadline", async () => {
    await Effect.runPromise(scoring.client.scoreSecurity({ symbol: "AAPL" })); // healthy first
    faults.set({ pattern: "d" });
    const seen = faults.calls.length;
    const error = await failureOf(scoring.client.scoreSecurity({ symbol: "AAPL" }));
    expect(error._tag).toBe("Unavailable");
    expect(error.code).toBe(Code.Unavailable);
    expect(reasonOf(error)).toStartWith("market GetCurrentRegime: DeadlineExceeded");
    // One attempt (a deadline is not retried), and the market saw the client's deadline on it.
    const calls = faults.calls.slice(seen);
    expect(calls.map((c) => c.fault)).toEqual(["drop"]);
    expect(calls[0]!.timeoutMs).toBeLessThanOrEqual(timeoutMs);
  }, 20_000);

  test("failing calls open the breaker: then scoring answers unavailable without calling the market", async () => {
    faults.set({ pattern: "x", code: Code.Unavailable });
    const reasons: string[] = [];
    for (let i = 0; i < 4; i++) reasons.push(reasonOf(await failureOf(scoring.client.batchScore({ symbols: ["AAPL", "MSFT"] }))));
    expect(reasons.at(-1)).toContain("CircuitOpen");
    const seen = faults.calls.length;
    const error = await failureOf(scoring.client.rankUniverse({ topN: 3 }));
    expect(error._tag).toBe("Unavailable");
    expect(reasonOf(error)).toContain("CircuitOpen");
    expect(faults.calls.length).toBe(seen); // refused by the breaker: the market never saw it
  }, 20_000);

  test("once the market answers again, so does scoring (the breaker closes after its pause)", async () => {
    faults.set({});
    let outcome = "";
    for (let waitedMs = 0; waitedMs < 10_000 && outcome !== "ok"; waitedMs += 200) {
      outcome = await Effect.runPromise(
        scoring.client.scoreSecurity({ symbol: "MSFT" }).pipe(
          Effect.map(() => "ok"),
          Effect.catch((e) => Effect.succeed(e._tag)),
        ),
      );
      if (outcome !== "ok") await Bun.sleep(200);
    }
    expect(outcome).toBe("ok");
  }, 20_000);
});
