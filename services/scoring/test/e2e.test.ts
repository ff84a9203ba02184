/**
 * Scoring end to end across processes (universe, market, scoring; PostgreSQL and
 * a private Redis): Connect JSON over HTTP/1.1 and gRPC over HTTP/2 give the same
 * answers; Connect GET works for these side-effect-free methods; an IngestBars on
 * the market process invalidates scoring's cached score through Redis Streams;
 * with the market process stopped, scoring answers unavailable at once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code } from "@connectrpc/connect";
import { Effect } from "effect";
import { createEffectClient, createNodeTransport } from "@meridian/sdk/node";
import { Market } from "@meridian/sdk/market";
import { Scoring, type Score } from "@meridian/sdk/scoring";
import { startPlatform, type Platform } from "./processes.js";

let platform: Platform;

beforeAll(async () => {
  // A longer market deadline than the 2 s default: this machine is shared and often loaded, and
  // these tests are about the answers, not the deadline (market-faults.test.ts is).
  platform = await startPlatform({ MERIDIAN_MARKET_TIMEOUT_MS: "8000" });
}, 180_000);

afterAll(async () => {
  await platform?.stop();
}, 60_000);

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);
const connect = () => createEffectClient(Scoring, { baseUrl: platform.scoring.httpUrl, policy: false });
const grpc = () =>
  createEffectClient(Scoring, { transport: createNodeTransport({ baseUrl: platform.scoring.grpcUrl, protocol: "grpc" }), policy: false });

describe("scoring across processes", () => {
  test("Connect over HTTP/1.1 and gRPC over HTTP/2 give the same scores and rankings", async () => {
    const symbols = ["AAPL", "XOM", "JPM"];
    const overConnect = await run(connect().batchScore({ symbols }));
    const overGrpc = await run(grpc().batchScore({ symbols }));
    expect(overConnect.scores.map((s) => s.symbol)).toEqual(symbols);
    expect(overGrpc).toEqual(overConnect);
    const top = await run(grpc().rankUniverse({ topN: 5 }));
    expect(top.scores.length).toBe(5);
    expect(top).toEqual(await run(connect().rankUniverse({ topN: 5 })));
    const protocols = new Set(platform.scoring.logs().filter((l) => l.message === "rpc").map((l) => l.protocol));
    expect(protocols).toEqual(new Set(["connect", "grpc"]));
  }, 30_000);

  test("bad input over gRPC names each field", async () => {
    const error = await run(Effect.flip(grpc().batchScore({ symbols: ["AAPL", "AAPL", "bad"] })));
    expect(error._tag).toBe("InvalidArgument");
    expect((error as unknown as { fieldViolations: Array<{ field: string }> }).fieldViolations.map((v) => v.field)).toEqual([
      "symbols[1]",
      "symbols[2]",
    ]);
  }, 30_000);

  test("plain HTTP: Connect JSON POST, and GET for a side-effect-free method", async () => {
    const post = await fetch(`${platform.scoring.httpUrl}/meridian.scoring.v1.ScoringService/ScoreSecurity`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ symbol: "MSFT" }),
    });
    expect(post.status).toBe(200);
    const posted = (await post.json()) as { score: { symbol: string; composite: number; regime: string } };
    expect(posted.score.symbol).toBe("MSFT");
    expect(posted.score.regime).toStartWith("REGIME_");
    const message = encodeURIComponent(JSON.stringify({ topN: 3, sector: "SECTOR_ENERGY" }));
    const get = await fetch(`${platform.scoring.httpUrl}/meridian.scoring.v1.ScoringService/RankUniverse?connect=v1&encoding=json&message=${message}`);
    expect(get.status).toBe(200);
    expect(((await get.json()) as { scores: unknown[] }).scores.length).toBe(3);
  }, 30_000);

  test("IngestBars on the market process invalidates scoring's cached score (Redis Streams, group scoring)", async () => {
    const market = createEffectClient(Market, { baseUrl: platform.market.httpUrl });
    const before = (await run(connect().scoreSecurity({ symbol: "PG" }))).score!;
    const { bars } = await run(market.getBars({ symbol: "PG" }));
    const last = bars.at(-1)!;
    const date = nextWeekday(last.date);
    const price = last.closeMicros / 2n;
    await run(
      market.ingestBars({
        symbol: "PG",
        bars: [{ date, openMicros: price, highMicros: price, lowMicros: price, closeMicros: price, volume: 10n }],
      }),
    );
    let after: Score = before;
    for (let waitedMs = 0; waitedMs < 15_000 && after.asOf !== date; waitedMs += 100) {
      await Bun.sleep(100);
      after = (await run(connect().scoreSecurity({ symbol: "PG" }))).score!;
    }
    expect(after.asOf).toBe(date);
    expect(after.maxDrawdown!.value).toBeGreaterThanOrEqual(0.5 - 1e-9);
  }, 30_000);

  test("with the market process stopped, scoring answers unavailable at once, and stays up", async () => {
    expect(await platform.market.stop()).toBe(0);
    for (let i = 0; i < 4; i++) {
      const error = await run(Effect.flip(connect().scoreSecurity({ symbol: "AAPL" })));
      expect(error._tag).toBe("Unavailable");
      expect(error.code).toBe(Code.Unavailable);
    }
    const open = await run(Effect.flip(grpc().rankUniverse({ topN: 3 })));
    expect((open as unknown as { reason: string }).reason).toContain("CircuitOpen");
    // The breaker is open: readiness says degraded (the market is optional to being up), not unhealthy.
    const ready = (await (await fetch(`${platform.scoring.httpUrl}/readyz`)).json()) as {
      status: string;
      dependencies: Record<string, { status: string }>;
    };
    expect(ready.status).toBe("degraded");
    expect(ready.dependencies["downstream:market"]!.status).toBe("down");
    expect(ready.dependencies["downstream:universe"]!.status).toBe("up");
    expect(platform.scoring.isRunning()).toBe(true);
  }, 30_000);

  test("SIGTERM stops scoring cleanly", async () => {
    expect(await platform.scoring.stop(8000)).toBe(0);
    expect(platform.scoring.logs().some((l) => l.message === "stopped")).toBe(true);
  }, 15_000);
});

function nextWeekday(date: string): string {
  let at = Date.parse(`${date}T00:00:00Z`);
  do at += 86_400_000;
  while ([0, 6].includes(new Date(at).getUTCDay()));
  return new Date(at).toISOString().slice(0, 10);
}
