/**
 * Two market instances on one real PostgreSQL database and one real Redis (as two replicas would
 * run): the regime cache is shared through Redis, ingests invalidate it, and a regime change is
 * recorded and published exactly once however many calls race to classify it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect, Fiber, ManagedRuntime, Stream } from "effect";
import { metrics } from "@meridian/kit";
import { tail, type EventType, type ReceivedEvent } from "@meridian/kit/events";
import { layerRedis, Redis, type RedisClient } from "@meridian/kit/redis";
import { dropRedisKeys, postgresDatabase, type TestDatabase } from "@meridian/kit/testing";
import { Regime, type BarsIngested, type RegimeChanged } from "@meridian/sdk/market";
import { BarsIngestedEvent, RegimeChangedEvent } from "../src/events.js";
import { MarketStore } from "../src/store.js";
import { crashBars, weekdaysAfter } from "./market-bars.js";
import { run, startInProcessMarket, type InProcessMarket } from "./in-process.js";

const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const keyPrefix = `market-it-${process.pid}-${Math.random().toString(36).slice(2, 8)}:`;
const regimeKey = `${keyPrefix}cache:market:regime:current`;
const cacheRequests = metrics.counter("cache_requests_total", "", ["namespace", "result"]);
const hits = () => cacheRequests.get({ namespace: "market", result: "hit" });

let database: TestDatabase;
let a: InProcessMarket;
let b: InProcessMarket;
// A connection of the test's own, to look at the keys the instances write.
const redisRuntime = ManagedRuntime.make(layerRedis({ url: redisUrl }));
let redis: RedisClient;

beforeAll(async () => {
  redis = (await redisRuntime.runPromise(Effect.service(Redis))).client;
  database = await postgresDatabase();
  const databaseUrl = database.env.DATABASE_URL!;
  a = await startInProcessMarket({ databaseUrl, redisUrl, keyPrefix });
  b = await startInProcessMarket({ databaseUrl, redisUrl, keyPrefix });
}, 180_000);

afterAll(async () => {
  await a?.dispose();
  await b?.dispose();
  await database?.drop();
  await dropRedisKeys(redisUrl, keyPrefix);
  await redisRuntime.dispose();
}, 60_000);

/** Collects a topic's events on the instance's (Redis) bus from now on; `stop` ends it. */
function follow<A extends RegimeChanged | BarsIngested>(market: InProcessMarket, event: EventType<A>) {
  const received: Array<ReceivedEvent<A>> = [];
  const fiber = market.runtime.runFork(Stream.runForEach(tail(event), (e) => Effect.sync(() => received.push(e))));
  return { received, stop: () => Effect.runPromise(Fiber.interrupt(fiber)) };
}

async function until(done: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await Bun.sleep(20);
  }
}

describe("market on PostgreSQL and Redis", () => {
  test("the dataset is loaded once, by the first instance", async () => {
    const { bars } = await run(b.client.getBars({ symbol: "NVDA", from: "2025-12-01" }));
    expect(bars.length).toBe(23);
    const { readings } = await run(b.client.getRegimeHistory({}));
    const fromA = await run(a.client.getRegimeHistory({}));
    expect(readings.length).toBe(fromA.readings.length);
    expect(new Set(readings.map((r) => `${r.asOf}:${r.regime}`)).size).toBe(readings.length);
  });

  test("the current regime is cached in Redis for 6 h and served to the other instance from there", async () => {
    const first = await run(a.client.getCurrentRegime({}));
    const ttl = await redis.ttl(regimeKey);
    expect(ttl).toBeGreaterThan(6 * 3600 - 60);
    expect(ttl).toBeLessThanOrEqual(6 * 3600);
    const hitsBefore = hits();
    const fromB = await run(b.client.getCurrentRegime({}));
    expect(hits()).toBe(hitsBefore + 1);
    // Same computation instant: B did not classify, it read A's entry.
    expect(fromB.reading!.computedAt).toEqual(first.reading!.computedAt);
  });

  test("an ingest invalidates the cached regime and publishes BarsIngested through the outbox", async () => {
    const before = await run(a.client.getCurrentRegime({}));
    const events = follow<BarsIngested>(b, BarsIngestedEvent);
    await Bun.sleep(300);
    const [day] = weekdaysAfter("2025-12-31", 1);
    const bar = { date: day!, openMicros: 50_000_000n, highMicros: 52_000_000n, lowMicros: 49_000_000n, closeMicros: 51_000_000n, volume: 7n };
    expect(await run(a.client.ingestBars({ symbol: "VZ", bars: [bar] }))).toMatchObject({ inserted: 1, updated: 0 });
    await until(() => events.received.length >= 1);
    await events.stop();
    expect(events.received.map((e) => e.payload)).toMatchObject([{ symbol: "VZ", inserted: 1, updated: 0, firstDate: day, lastDate: day }]);
    const after = await run(b.client.getCurrentRegime({}));
    expect(after.reading!.computedAt).not.toEqual(before.reading!.computedAt);
  });

  test("a change is recorded and published once, however many calls on both instances race to classify it", async () => {
    const events = follow<RegimeChanged>(a, RegimeChangedEvent);
    await Bun.sleep(300);
    const historyBefore = (await run(a.client.getRegimeHistory({}))).readings.length;
    const [index] = (await run(a.client.getQuotes({ symbols: ["^MERIDIAN"] }))).quotes;
    await run(a.client.ingestBars({ symbol: "^MERIDIAN", bars: crashBars(index!.priceMicros, index!.date) }));
    const readings = await Promise.all(
      Array.from({ length: 20 }, (_, i) => run((i % 2 === 0 ? a : b).client.getCurrentRegime({}))),
    );
    expect(readings.every((r) => r.reading!.regime === Regime.CRISIS)).toBe(true);
    await until(() => events.received.length >= 1);
    await Bun.sleep(1500); // a second event, if any, would have been relayed by now
    await events.stop();
    expect(events.received.length).toBe(1);
    expect(events.received[0]!.payload.current!.regime).toBe(Regime.CRISIS);
    expect(events.received[0]!.payload.previous).not.toBe(Regime.CRISIS);
    const history = (await run(b.client.getRegimeHistory({}))).readings;
    expect(history.length).toBe(historyBefore + 1);
    expect(history.at(-1)!.regime).toBe(Regime.CRISIS);
  }, 60_000);

  test("concurrent recorders on two pools record one change and write one event", async () => {
    const reading = {
      regime: Regime.SIDEWAYS,
      confidence: 0.6,
      indicators: { volatility20d: 0.1, volatility60d: 0.1, trend50200: 0, drawdownFromPeak: 0.05, breadth: 0.5, return60d: 0 },
      asOf: "2026-03-02",
      computedAt: new Date(),
    };
    const recordFrom = (market: InProcessMarket) =>
      market.runtime.runPromise(Effect.flatMap(Effect.service(MarketStore), (store) => store.recordIfChanged(reading, {})));
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => recordFrom(i % 2 === 0 ? a : b)));
    expect(results.filter((r) => r !== undefined)).toEqual([{ previous: Regime.CRISIS }]);
    const history = (await run(a.client.getRegimeHistory({ from: "2026-03-02" }))).readings;
    expect(history.map((r) => r.regime)).toEqual([Regime.SIDEWAYS]);
  }, 30_000);
});
