/**
 * Rate limits: the GCRA decision on a controllable clock, then the same suite against the
 * in-process store and the real Redis (whose own clock times it), and the limiter letting
 * requests through, counted, while its Redis is down, and reloading its script after a restart.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect, Exit, Layer, ManagedRuntime } from "effect";
import { metrics } from "../telemetry/metrics.js";
import { layerRedis, Redis, type RedisClient } from "../redis/connection.js";
import { startRedisServer } from "../redis/testing.js";
import { decide, makeRateLimiter, memoryRateStore, RateLimiter, layerRedisRateLimiter, type RateLimit, type RateStore } from "./index.js";
import { redisGcra } from "./redis-gcra.js";

describe("GCRA", () => {
  const rate = { perSecond: 10, burst: 3 };

  test("a quiet key takes a burst at once, then one request per interval", () => {
    let tat: number | undefined;
    for (let i = 0; i < 3; i++) {
      const d = decide(1000, tat, rate);
      expect(d.allowed).toBe(true);
      if (d.allowed) tat = d.tat;
    }
    expect(decide(1000, tat, rate)).toEqual({ allowed: false, retryAfterMs: 100 });
    expect(decide(1060, tat, rate)).toEqual({ allowed: false, retryAfterMs: 40 });
    const next = decide(1100, tat, rate);
    expect(next.allowed).toBe(true);
    if (next.allowed) expect(decide(1100, next.tat, rate)).toEqual({ allowed: false, retryAfterMs: 100 });
  });

  test("a refused request spends nothing, and a long quiet spell gives back the whole burst, no more", () => {
    let tat: number | undefined;
    for (let i = 0; i < 3; i++) {
      const d = decide(0, tat, rate);
      if (d.allowed) tat = d.tat;
    }
    for (let i = 0; i < 5; i++) expect(decide(50, tat, rate).allowed).toBe(false);
    let allowed = 0;
    for (let i = 0; i < 10; i++) {
      const d = decide(60_000, tat, rate);
      if (d.allowed) {
        allowed += 1;
        tat = d.tat;
      }
    }
    expect(allowed).toBe(3);
  });

  test("over 1,000 requests per second the sub-millisecond interval is kept", () => {
    // 4 per millisecond, after a burst of 8: neither rounded to one per millisecond nor to no limit.
    const fast = { perSecond: 4000, burst: 8 };
    let tat: number | undefined;
    let allowed = 0;
    for (let now = 0; now < 10; now++) {
      for (let i = 0; i < 20; i++) {
        const d = decide(now, tat, fast);
        if (d.allowed) {
          allowed += 1;
          tat = d.tat;
        }
      }
    }
    expect(allowed).toBe(8 + 9 * 4);
  });
});

const runs = new Set<ManagedRuntime.ManagedRuntime<RateLimiter, unknown>>();
afterAll(async () => {
  for (const runtime of runs) await runtime.dispose();
});

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `test:ratelimit:${crypto.randomUUID().slice(0, 8)}:`;

/** The same behaviour from both stores; `limit` has a rate slow enough that a test step never crosses an interval. */
function sharedSuite(name: string, store: () => RateStore) {
  describe(`rate limiter (${name})`, () => {
    const limit: RateLimit = { name: "test_limit", perSecond: 1, burst: 3 };
    const limiter = () => makeRateLimiter(store());
    const take = (l: ReturnType<typeof limiter>, key: string, which = limit) => Effect.runPromiseExit(l.take(which, key));

    test("each key gets its burst, then RateLimited with when to retry", async () => {
      const l = limiter();
      for (let i = 0; i < 3; i++) expect(Exit.isSuccess(await take(l, "alice"))).toBe(true);
      const refused = await take(l, "alice");
      expect(Exit.isFailure(refused)).toBe(true);
      const error = Exit.isFailure(refused) ? (refused.cause.reasons[0] as { error: { _tag: string; retryAfterMs: bigint; message: string } }).error : undefined;
      expect(error?._tag).toBe("RateLimited");
      expect(error!.retryAfterMs).toBeGreaterThan(0n);
      expect(error!.retryAfterMs).toBeLessThanOrEqual(1000n);
      expect(error!.message).toContain("test_limit: 1 requests/s, bursts of 3");
      // Another key, and the same key under another limit, have allowances of their own.
      expect(Exit.isSuccess(await take(l, "bob"))).toBe(true);
      expect(Exit.isSuccess(await take(l, "alice", { ...limit, name: "other_limit" }))).toBe(true);
    });

    test("the allowance comes back at the sustained rate", async () => {
      const l = limiter();
      const fast: RateLimit = { name: "test_fast", perSecond: 20, burst: 1 };
      expect(Exit.isSuccess(await take(l, "carol", fast))).toBe(true);
      const refused = await take(l, "carol", fast);
      expect(Exit.isFailure(refused)).toBe(true);
      await Bun.sleep(60);
      expect(Exit.isSuccess(await take(l, "carol", fast))).toBe(true);
    });

    test("concurrent requests of one key never get more than the burst", async () => {
      const l = limiter();
      const exits = await Promise.all(Array.from({ length: 20 }, () => take(l, "dave")));
      expect(exits.filter(Exit.isSuccess).length).toBe(3);
    });
  });
}

sharedSuite("in-process", () => memoryRateStore());

describe("on Redis", () => {
  const redis = ManagedRuntime.make(layerRedis({ url: redisUrl }));
  let client: RedisClient;
  beforeAll(async () => {
    client = (await redis.runPromise(Effect.service(Redis))).client;
  });
  afterAll(async () => {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await client.unlink(keys);
    await redis.dispose();
  });
  sharedSuite("Redis", () => redisGcra(client, { keyPrefix: prefix }));

  test("a key lives only until its allowance is full again", async () => {
    const store = redisGcra(client, { keyPrefix: prefix });
    expect(await store.take({ name: "ttl", perSecond: 10, burst: 2 }, "erin")).toEqual({ _tag: "allowed" });
    const ttl = await client.pTTL(`${prefix}ratelimit:ttl:erin`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(100);
  });
});

describe("rate limiter with its Redis down", () => {
  test("lets requests through, counted as errors, while Redis hangs or is down; limits again after a restart (script reloaded)", async () => {
    const server = await startRedisServer();
    const runtime = ManagedRuntime.make(layerRedisRateLimiter({ timeoutMs: 200 }).pipe(Layer.provide(layerRedis({ url: server.url }))));
    runs.add(runtime);
    const limit: RateLimit = { name: "test_outage", perSecond: 1 / 60, burst: 1 };
    const take = (key: string) => runtime.runPromiseExit(Effect.flatMap(Effect.service(RateLimiter), (l) => l.take(limit, key)));
    const errors = () => metrics.counter("rate_limit_requests_total", "", []).get({ limit: "test_outage", result: "error" });
    try {
      expect(Exit.isSuccess(await take("frank"))).toBe(true);
      expect(Exit.isFailure(await take("frank"))).toBe(true);

      // Hung (SIGSTOP): no answer within the timeout, so the request goes through.
      server.pause();
      let before = errors();
      expect(Exit.isSuccess(await take("frank"))).toBe(true);
      expect(errors() - before).toBe(1);
      server.resume();

      await server.stop();
      before = errors();
      for (let i = 0; i < 5; i++) expect(Exit.isSuccess(await take("frank"))).toBe(true);
      expect(errors() - before).toBe(5);

      // A restarted Redis (it keeps nothing) has forgotten the script: it is loaded again.
      await server.start();
      let answered = false;
      for (const deadline = Date.now() + 10_000; !answered && Date.now() < deadline; ) {
        const failedBefore = errors();
        await take("probe");
        answered = errors() === failedBefore;
        if (!answered) await Bun.sleep(50);
      }
      expect(answered).toBe(true);
      expect(Exit.isSuccess(await take("grace"))).toBe(true);
      expect(Exit.isFailure(await take("grace"))).toBe(true);
    } finally {
      await runtime.dispose();
      runs.delete(runtime);
      await server.stop();
    }
  }, 30_000);
});
