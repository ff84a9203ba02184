import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Data, Effect, Fiber, Layer } from "effect";
import { SecuritySchema, type Security } from "@meridian/sdk/universe";
import { layerRedis } from "../redis/connection.js";
import { startRedisServer, type RedisServerProcess } from "../redis/testing.js";
import { metrics } from "../telemetry/metrics.js";
import { Cache, layerMemoryCache, layerRedisCache } from "./cache.js";
import { sharedKey, userKey } from "./keys.js";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const runPrefix = `test:${crypto.randomUUID().slice(0, 8)}:cache:`;

class SourceDown extends Data.TaggedError("SourceDown")<{}> {}

const security = (symbol: string, name = `${symbol} Inc.`): Security =>
  create(SecuritySchema, { symbol, name, currency: "USD", active: true });

/** A source that counts its fetches; each fetch takes `delayMs` and returns the current value. */
const source = (initial: Security, delayMs = 0) => {
  const state = { value: initial, fetches: 0 };
  const fetch = Effect.gen(function* () {
    state.fetches += 1;
    const value = state.value;
    if (delayMs > 0) yield* Effect.sleep(delayMs);
    return value;
  });
  return { state, fetch };
};

let keyCount = 0;
const freshKey = () => sharedKey(SecuritySchema, "universe", "security", `S${++keyCount}-${Math.random().toString(36).slice(2, 8)}`);

const implementations = [
  { name: "redis", layer: () => layerRedisCache({ keyPrefix: runPrefix }).pipe(Layer.provide(layerRedis({ url: redisUrl }))) },
  { name: "in-process", layer: () => layerMemoryCache() },
];

describe.each(implementations)("cache ($name)", ({ layer }) => {
  const run = <A, E>(body: Effect.Effect<A, E, Cache>) => Effect.runPromise(Effect.provide(body, layer()));

  test("100 concurrent misses of one key fetch once, and every caller gets the value", async () => {
    const key = freshKey();
    const { state, fetch } = source(security("AAPL"), 20);
    const results = await run(
      Effect.flatMap(Cache, (cache) =>
        Effect.all(
          Array.from({ length: 100 }, () => cache.getOrFetch(key, 60, fetch)),
          { concurrency: "unbounded" },
        ),
      ),
    );
    expect(state.fetches).toBe(1);
    expect(results.every((r) => r.symbol === "AAPL")).toBe(true);
  });

  test("a cached message is served without fetching, the same message", async () => {
    const key = freshKey();
    const { state, fetch } = source(security("MSFT", "Microsoft"));
    const [first, second] = await run(
      Effect.flatMap(Cache, (cache) =>
        Effect.all([cache.getOrFetch(key, 60, fetch), Effect.flatMap(Effect.yieldNow, () => cache.getOrFetch(key, 60, fetch))]),
      ),
    );
    expect(state.fetches).toBe(1);
    expect(second).toEqual(first);
    expect(second.name).toBe("Microsoft");
  });

  test("an entry expires after its TTL and is fetched again", async () => {
    const key = freshKey();
    const { state, fetch } = source(security("NVDA"));
    await run(
      Effect.flatMap(Cache, (cache) =>
        Effect.gen(function* () {
          yield* cache.getOrFetch(key, 0.2, fetch);
          yield* cache.getOrFetch(key, 0.2, fetch);
          expect(state.fetches).toBe(1);
          yield* Effect.sleep(300);
          state.value = security("NVDA", "Nvidia (renamed)");
          const after = yield* cache.getOrFetch(key, 0.2, fetch);
          expect(state.fetches).toBe(2);
          expect(after.name).toBe("Nvidia (renamed)");
        }),
      ),
    );
  });

  test("invalidate makes the next read fetch the new value", async () => {
    const key = freshKey();
    const other = freshKey();
    const { state, fetch } = source(security("IBM"));
    await run(
      Effect.flatMap(Cache, (cache) =>
        Effect.gen(function* () {
          yield* cache.getOrFetch(key, 60, fetch);
          yield* cache.getOrFetch(other, 60, fetch);
          state.value = security("IBM", "International Business Machines");
          yield* cache.invalidate(key);
          expect((yield* cache.getOrFetch(key, 60, fetch)).name).toBe("International Business Machines");
          expect((yield* cache.getOrFetch(other, 60, fetch)).name).toBe("IBM Inc.");
          expect(state.fetches).toBe(3);
        }),
      ),
    );
  });

  test("invalidateUser drops every entry of that user and no other user's", async () => {
    const id = `u${Math.random().toString(36).slice(2, 8)}`;
    const mine = [userKey(SecuritySchema, id, "portfolio"), userKey(SecuritySchema, id, "watchlist")];
    // A user whose id starts with the first one's must keep its entries.
    const theirs = userKey(SecuritySchema, `${id}0`, "portfolio");
    const { state, fetch } = source(security("T"));
    await run(
      Effect.flatMap(Cache, (cache) =>
        Effect.gen(function* () {
          for (const key of [...mine, theirs]) yield* cache.getOrFetch(key, 60, fetch);
          expect(state.fetches).toBe(3);
          yield* cache.invalidateUser(id);
          for (const key of [...mine, theirs]) yield* cache.getOrFetch(key, 60, fetch);
          expect(state.fetches).toBe(5);
        }),
      ),
    );
  });

  test("a failed fetch reaches every waiting caller and caches nothing", async () => {
    const key = freshKey();
    let attempts = 0;
    const failing = Effect.gen(function* () {
      attempts += 1;
      yield* Effect.sleep(10);
      return yield* new SourceDown();
    });
    const outcomes = await run(
      Effect.flatMap(Cache, (cache) =>
        Effect.all(
          Array.from({ length: 10 }, () => Effect.flip(cache.getOrFetch(key, 60, failing))),
          { concurrency: "unbounded" },
        ),
      ),
    );
    expect(attempts).toBe(1);
    expect(outcomes.every((e) => e instanceof SourceDown)).toBe(true);
    const { state, fetch } = source(security("OK"));
    await run(Effect.flatMap(Cache, (cache) => cache.getOrFetch(key, 60, fetch)));
    expect(state.fetches).toBe(1);
  });

  test("a value fetched while its key is invalidated is returned but not cached", async () => {
    const key = freshKey();
    const { state, fetch } = source(security("OLD"), 50);
    await run(
      Effect.flatMap(Cache, (cache) =>
        Effect.gen(function* () {
          const inFlight = yield* Effect.forkChild(cache.getOrFetch(key, 60, fetch));
          yield* Effect.sleep(10);
          yield* cache.invalidate(key);
          state.value = security("NEW");
          expect((yield* Fiber.join(inFlight)).symbol).toBe("OLD");
          expect((yield* cache.getOrFetch(key, 60, fetch)).symbol).toBe("NEW");
        }),
      ),
    );
  });

  test("waiters of an interrupted caller fetch on their own instead of hanging", async () => {
    const key = freshKey();
    const { state, fetch } = source(security("X"), 50);
    const result = await run(
      Effect.flatMap(Cache, (cache) =>
        Effect.gen(function* () {
          const leader = yield* Effect.forkChild(cache.getOrFetch(key, 60, fetch));
          yield* Effect.sleep(5);
          const waiter = yield* Effect.forkChild(cache.getOrFetch(key, 60, fetch));
          yield* Effect.sleep(5);
          yield* Fiber.interrupt(leader);
          return yield* Fiber.join(waiter);
        }),
      ),
    );
    expect(result.symbol).toBe("X");
    expect(state.fetches).toBe(2);
  });
});

describe("cache on a Redis that fails", () => {
  let server: RedisServerProcess;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server.stop();
  });
  const layer = () =>
    layerRedisCache({ keyPrefix: runPrefix, timeoutMs: 100, skipMs: 200 }).pipe(
      Layer.provide(layerRedis({ url: server.url, reconnectCapMs: 100 })),
    );
  const errors = () => metrics.counter("cache_requests_total", "", []).get({ namespace: "universe", result: "error" });

  test("Redis stopped mid-test: every request is still served from the source, and hits resume when it is back", async () => {
    const key = freshKey();
    const { state, fetch } = source(security("AMZN"));
    await Effect.runPromise(
      Effect.flatMap(Cache, (cache) =>
        Effect.gen(function* () {
          yield* cache.getOrFetch(key, 60, fetch);
          yield* cache.getOrFetch(key, 60, fetch);
          expect(state.fetches).toBe(1);

          const errorsBefore = errors();
          yield* Effect.promise(() => server.stop());
          for (let i = 0; i < 20; i++) {
            expect((yield* cache.getOrFetch(key, 60, fetch)).symbol).toBe("AMZN");
          }
          expect(state.fetches).toBe(21);
          expect(errors() - errorsBefore).toBe(20);

          yield* Effect.promise(() => server.start());
          // Redis came back empty: once reconnected, one fetch refills it and the next read is a hit.
          let recovered = false;
          for (let i = 0; i < 250 && !recovered; i++) {
            yield* cache.getOrFetch(key, 60, fetch);
            const before = state.fetches;
            yield* cache.getOrFetch(key, 60, fetch);
            recovered = state.fetches === before;
            if (!recovered) yield* Effect.sleep(20);
          }
          expect(recovered).toBe(true);
        }),
      ).pipe(Effect.provide(layer())),
    );
  });

  test("Redis hung: requests are served from the source instead of waiting on it", async () => {
    const key = freshKey();
    const { state, fetch } = source(security("GOOG"));
    await Effect.runPromise(
      Effect.flatMap(Cache, (cache) =>
        Effect.gen(function* () {
          yield* cache.getOrFetch(key, 60, fetch);
          const errorsBefore = errors();
          server.pause();
          try {
            const values = yield* Effect.all(
              Array.from({ length: 20 }, () => cache.getOrFetch(freshKey(), 60, fetch)),
              { concurrency: 5 },
            );
            expect(values.every((v) => v.symbol === "GOOG")).toBe(true);
            expect(errors() - errorsBefore).toBe(20);
          } finally {
            server.resume();
          }
        }),
      ).pipe(Effect.provide(layer())),
    );
  });
});

describe("cache in this process's memory", () => {
  test("a hit answers at once with the message it holds, frozen: a caller that would change it for every caller fails instead", async () => {
    const key = freshKey();
    const { state, fetch } = source(create(SecuritySchema, { symbol: "KO", name: "Coca-Cola", currency: "USD", active: true }));
    const cache = Effect.runSync(Effect.provide(Effect.service(Cache), layerMemoryCache()));
    const first = await Effect.runPromise(cache.getOrFetch(key, 60, fetch));
    // No turn of the event loop: runSync throws on anything asynchronous.
    const second = Effect.runSync(cache.getOrFetch(key, 60, fetch));
    expect(state.fetches).toBe(1);
    expect(second).toBe(first);
    expect(() => {
      (second as { name: string }).name = "changed";
    }).toThrow(TypeError);
    expect(Effect.runSync(cache.getOrFetch(key, 60, fetch)).name).toBe("Coca-Cola");
  });
});
