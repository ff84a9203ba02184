/**
 * Market and universe as separate processes: Connect over HTTP/1.1 (JSON, binary, GET) and gRPC
 * over HTTP/2, typed errors across the wire, WatchRegime following a change an IngestBars
 * causes on both protocols, and a clean end of streams at shutdown.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Effect, Fiber, Stream } from "effect";
import { createEffectClient, createFetchTransport, type EffectClient } from "@meridian/sdk";
import { createNodeTransport } from "@meridian/sdk/node";
import { BarSchema, Market, Regime, type RegimeReading } from "@meridian/sdk/market";
import { crashBars } from "./market-bars.js";
import { startMarketProcesses, type MarketProcesses } from "./market-process.js";

let processes: MarketProcesses;
let connect: EffectClient<typeof Market>;
let grpc: EffectClient<typeof Market>;

beforeAll(async () => {
  processes = await startMarketProcesses();
  connect = createEffectClient(Market, { transport: createFetchTransport({ baseUrl: processes.market.httpUrl }) });
  grpc = createEffectClient(Market, { transport: createNodeTransport({ baseUrl: processes.market.grpcUrl, protocol: "grpc" }) });
}, 240_000);

afterAll(async () => {
  await processes?.stop();
}, 60_000);

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);
const failureOf = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(Effect.flip(effect));
const method = (name: string) => `${processes.market.httpUrl}/meridian.market.v1.MarketService/${name}`;

async function until(done: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await Bun.sleep(20);
  }
}

describe("market across processes", () => {
  test("the seeded dataset answers over Connect JSON (plain fetch) and gRPC", async () => {
    const response = await fetch(method("GetQuotes"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ symbols: ["AAPL", "^MERIDIAN"] }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { quotes: Array<{ symbol: string; date: string; priceMicros: string }> };
    expect(body.quotes.map((q) => [q.symbol, q.date])).toEqual([
      ["AAPL", "2025-12-31"],
      ["^MERIDIAN", "2025-12-31"],
    ]);
    const { bars } = await run(grpc.getBars({ symbol: "AAPL", from: "2025-12-29" }));
    expect(bars.map((b) => b.date)).toEqual(["2025-12-29", "2025-12-30", "2025-12-31"]);
    expect(bars[2]!.closeMicros).toBe(BigInt(body.quotes[0]!.priceMicros));
  });

  test("GetCurrentRegime answers Connect GET", async () => {
    const response = await fetch(`${method("GetCurrentRegime")}?connect=v1&encoding=json&message=${encodeURIComponent("{}")}`);
    expect(response.status).toBe(200);
    const { reading } = (await response.json()) as { reading: { regime: string; asOf: string; confidence: number } };
    expect(reading.asOf).toBe("2025-12-31");
    expect(reading.regime).toMatch(/^REGIME_(CRISIS|BEAR|SIDEWAYS|NORMAL_BULL|STRONG_BULL)$/);
    expect(reading.confidence).toBeGreaterThanOrEqual(0);
  });

  test("bad input comes back typed, with field names, on both protocols", async () => {
    const bad = create(BarSchema, { date: "2026-01-05", openMicros: 10n, highMicros: 9n, lowMicros: 8n, closeMicros: 10n, volume: -1n });
    for (const client of [connect, grpc]) {
      const invalid = await failureOf(client.ingestBars({ symbol: "AAPL", bars: [bad] }));
      expect(invalid._tag).toBe("InvalidArgument");
      if (invalid._tag === "InvalidArgument") expect(invalid.fieldViolations.map((v) => v.field)).toEqual(["bars[0].high_micros", "bars[0].volume"]);
      const good = create(BarSchema, { ...bad, highMicros: 11n, volume: 1n });
      const unknown = await failureOf(client.ingestBars({ symbol: "NOPE", bars: [good] }));
      expect(unknown._tag).toBe("UnknownSymbols");
      if (unknown._tag === "UnknownSymbols") expect(unknown.symbols).toEqual(["NOPE"]);
    }
    const plain = await fetch(method("GetBars"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ symbol: "AAPL", from: "2024-02-30" }),
    });
    expect(plain.status).toBe(400);
    expect(JSON.stringify(await plain.json())).toContain("from");
  });

  test("WatchRegime over Connect and gRPC both receive the change an IngestBars causes", async () => {
    const overConnect: RegimeReading[] = [];
    const overGrpc: RegimeReading[] = [];
    const watch = (client: EffectClient<typeof Market>, into: RegimeReading[]) =>
      Effect.runFork(Stream.runForEach(client.watchRegime({}), (m) => Effect.sync(() => into.push(m.reading!))));
    const fibers = [watch(connect, overConnect), watch(grpc, overGrpc)];
    await until(() => overConnect.length >= 1 && overGrpc.length >= 1);
    await Bun.sleep(500);
    const [index] = (await run(connect.getQuotes({ symbols: ["^MERIDIAN"] }))).quotes;
    await run(connect.ingestBars({ symbol: "^MERIDIAN", bars: crashBars(index!.priceMicros, index!.date) }));
    await until(() => overConnect.length >= 2 && overGrpc.length >= 2);
    // The client cancels: the server ends the stream and goes on serving.
    await Effect.runPromise(Fiber.interruptAll(fibers));
    for (const readings of [overConnect, overGrpc]) {
      expect(readings[0]!.regime).not.toBe(Regime.CRISIS);
      expect(readings[1]!.regime).toBe(Regime.CRISIS);
    }
    const { reading } = await run(grpc.getCurrentRegime({}));
    expect(reading!.regime).toBe(Regime.CRISIS);
  }, 60_000);

  test("at shutdown an open WatchRegime ends cleanly and the process exits promptly", async () => {
    const received: RegimeReading[] = [];
    const streamEnd = Effect.runPromise(
      Effect.exit(Stream.runForEach(grpc.watchRegime({}), (m) => Effect.sync(() => received.push(m.reading!)))),
    );
    await until(() => received.length >= 1);
    const exitCode = await processes.market.stop(8000);
    expect(exitCode).toBe(0);
    const end = await Promise.race([streamEnd, Bun.sleep(5000).then(() => "still open" as const)]);
    expect(end).not.toBe("still open");
    const logs = processes.market.logs();
    expect(logs.filter((l) => l.level === "warn" && String(l.message).includes("grace"))).toEqual([]);
    expect(logs.map((l) => l.message)).toContain("stopped");
  }, 30_000);
});
