/**
 * Cache hit latency against a bare redis GET (`client.get`) of the same key, in the same run, on
 * the same connection: the two alternate call by call, so whatever the machine does meanwhile (GC,
 * other load, how soon an idle CPU wakes for Redis's answer: it moves loopback round trips between
 * about 15 and 75 µs from one run to the next) hits both alike. The cache side is `getOrFetch`
 * inside a running fiber, as a handler calls it, protobuf decoding included.
 */
import { create } from "@bufbuild/protobuf";
import { Effect } from "effect";
import { SecuritySchema, Sector } from "../../sdk/src/gen/meridian/universe/v1/universe_pb.js";
import { makeCache, memoryStore, redisStore, sharedKey } from "@meridian/kit/cache";
import { layerRedis, Redis } from "@meridian/kit/redis";

export interface LatencyResult {
  readonly name: string;
  readonly samples: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
}

export interface CacheLatencyResult {
  readonly bareGet: LatencyResult;
  readonly cacheHit: LatencyResult;
  readonly memoryHit: LatencyResult;
  readonly valueBytes: number;
}

const summarize = (name: string, samples: number[]): LatencyResult => {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  const us = (ms: number) => Math.round(ms * 1000 * 10) / 10;
  return { name, samples: sorted.length, p50Us: us(at(0.5)), p99Us: us(at(0.99)), meanUs: us(mean) };
};

/** `rounds` × `block` sequential reads of each: bare GET and cache hit call by call, then a block of in-process hits. */
export async function measureCacheLatency(redisUrl: string, rounds = 20, block = 1000): Promise<CacheLatencyResult> {
  const prefix = `bench:${crypto.randomUUID().slice(0, 8)}:`;
  const value = create(SecuritySchema, { symbol: "AAPL", name: "Apple Inc.", sector: Sector.TECHNOLOGY, currency: "USD", active: true });
  const key = sharedKey(SecuritySchema, "universe", "security", "AAPL");
  const fetch = Effect.succeed(value);

  return Effect.runPromise(
    Effect.gen(function* () {
      const { client } = yield* Redis;
      const cache = makeCache(redisStore(client, prefix));
      const memory = makeCache(memoryStore());
      yield* cache.getOrFetch(key, 3600, fetch);
      yield* memory.getOrFetch(key, 3600, fetch);
      yield* Effect.sleep(20);
      const storedKey = prefix + key.key;
      const stored = yield* Effect.promise(() => client.strLen(storedKey));
      const bare: number[] = [];
      const hits: number[] = [];
      const memoryHits: number[] = [];
      // The bare GET is timed inside its own promise, so the fiber's step around it is not counted.
      const timedGet = Effect.promise(async () => {
        const t = performance.now();
        await client.get(storedKey);
        return performance.now() - t;
      });
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < block; i++) {
          // Which goes first alternates too.
          if (i % 2 === 0) bare.push(yield* timedGet);
          const t = performance.now();
          yield* cache.getOrFetch(key, 3600, fetch);
          hits.push(performance.now() - t);
          if (i % 2 === 1) bare.push(yield* timedGet);
        }
        for (let i = 0; i < block; i++) {
          const t = performance.now();
          yield* memory.getOrFetch(key, 3600, fetch);
          memoryHits.push(performance.now() - t);
        }
      }
      yield* Effect.promise(() => client.sendCommand(["DEL", storedKey]));
      return {
        bareGet: summarize("bare redis GET", bare),
        cacheHit: summarize("cache hit (Redis)", hits),
        memoryHit: summarize("cache hit (in-process)", memoryHits),
        valueBytes: stored,
      };
    }).pipe(Effect.provide(layerRedis({ url: redisUrl }))),
  );
}
