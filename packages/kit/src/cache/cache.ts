/**
 * Cache-aside for services: `getOrFetch(key, ttlSeconds, fetch)` returns the cached message or
 * fetches it once for every concurrent caller of that key in the process, and a cache that is
 * down or slow only costs a fetch from the source — it never fails a request.
 */
import { fromBinary, type Message } from "@bufbuild/protobuf";
import { Cause, Context, Effect, Exit, Layer } from "effect";
import { metrics } from "../telemetry/metrics.js";
import { Redis } from "../redis/connection.js";
import { outageLog } from "../redis/outage-log.js";
import type { CacheKey } from "./keys.js";
import { userKeyPrefix } from "./keys.js";
import { memoryStore } from "./memory-store.js";
import { redisStore, type RedisStoreOptions } from "./redis-store.js";
import type { CacheStore, Lookup } from "./store.js";

/** What a service's code uses. */
export interface CacheShape {
  /**
   * The message cached under `key`, else `fetch`'s result, cached for `ttlSeconds`. Concurrent
   * callers of one key share one lookup and one fetch (its failure too). A cache failure is
   * logged and counted and the value comes from `fetch`: only `fetch` can fail the call.
   */
  readonly getOrFetch: <A extends Message, E, R>(
    key: CacheKey<A>,
    ttlSeconds: number,
    fetch: Effect.Effect<A, E, R>,
  ) => Effect.Effect<A, E, R>;
  /**
   * Removes entries, so the next read fetches; a fetch in flight for them is not cached. Never
   * fails: a store failure is logged and counted (the entry then lives until its TTL).
   */
  readonly invalidate: (...keys: ReadonlyArray<CacheKey<any>>) => Effect.Effect<void>;
  /** Removes every per-user entry of `userId` (`user:<id>:*`), with the same guarantees. */
  readonly invalidateUser: (userId: string) => Effect.Effect<void>;
}

/** The cache of this service. */
export class Cache extends Context.Service<Cache, CacheShape>()("@meridian/kit/Cache") {}

/** Where entries go and how long a lookup may take. */
export interface CacheOptions extends RedisStoreOptions {
  /** Prefix of every Redis key (default "cache:"), e.g. per deployment or per test run. */
  readonly keyPrefix?: string;
  /** Bound on the in-process cache's entries (default 10,000). */
  readonly maxEntries?: number;
}

/** `getOrFetch` of the service's Cache. */
export const getOrFetch = <A extends Message, E, R>(
  key: CacheKey<A>,
  ttlSeconds: number,
  fetch: Effect.Effect<A, E, R>,
): Effect.Effect<A, E, R | Cache> => Effect.flatMap(Effect.service(Cache), (cache) => cache.getOrFetch(key, ttlSeconds, fetch));

/** Provides the cache in Redis (the Redis Layer's connection). */
export const layerRedisCache = (options: CacheOptions = {}): Layer.Layer<Cache, never, Redis> =>
  Layer.effect(
    Cache,
    Effect.map(Effect.service(Redis), ({ client }) => makeCache(redisStore(client, options.keyPrefix ?? "cache:", options))),
  );

/** Provides the in-process cache: same semantics, nothing shared between processes. */
export const layerMemoryCache = (options: CacheOptions = {}): Layer.Layer<Cache> =>
  Layer.sync(Cache, () => makeCache(memoryStore(options)));

/** The Redis cache when a Redis Layer is given (REDIS_URL set), the in-process one otherwise. */
export const layerCacheFor = <E, R>(
  redis: Layer.Layer<Redis, E, R> | undefined,
  options: CacheOptions = {},
): Layer.Layer<Cache, E, R> =>
  redis === undefined ? layerMemoryCache(options) : layerRedisCache(options).pipe(Layer.provide(redis));

const requests = metrics.counter("cache_requests_total", "Cache lookups by namespace and result (hit, miss, error: served from the source).", [
  "namespace",
  "result",
]);
const coalesced = metrics.counter("cache_coalesced_total", "Lookups that joined another caller's lookup of the same key.", ["namespace"]);
const writeErrors = metrics.counter("cache_write_errors_total", "Cache writes and invalidations that failed.", ["namespace", "operation"]);

// Bound once per namespace: the hit path pays no label lookup.
const requestSeries = new Map<string, { readonly hit: BoundCounter; readonly miss: BoundCounter; readonly error: BoundCounter }>();
type BoundCounter = ReturnType<typeof requests.bind>;
const seriesOf = (namespace: string) => {
  let found = requestSeries.get(namespace);
  if (found === undefined) {
    found = {
      hit: requests.bind({ namespace, result: "hit" }),
      miss: requests.bind({ namespace, result: "miss" }),
      error: requests.bind({ namespace, result: "error" }),
    };
    requestSeries.set(namespace, found);
  }
  return found;
};

interface Flight {
  readonly waiters: Array<(exit: Exit.Exit<unknown, unknown>) => void>;
  /** Invalidated while in flight: its result is returned but not cached. */
  stale: boolean;
}

/** A cache over `store`. */
export function makeCache(store: CacheStore): CacheShape {
  const flights = new Map<string, Flight>();
  const outage = outageLog("cache unavailable: serving from the source");

  const write = (key: CacheKey<Message>, value: Message, ttlSeconds: number) =>
    store.set(key.key, key.schema, value, ttlSeconds).catch((e: unknown) => {
      writeErrors.inc({ namespace: key.namespace, operation: "set" });
      outage.failed({ namespace: key.namespace, operation: "set", error: describe(e) });
    });

  const hit = <A extends Message>(key: CacheKey<A>, value: A): Effect.Effect<A> => {
    seriesOf(key.namespace).hit.inc();
    outage.recovered();
    return Effect.succeed(value);
  };

  const lookupThenFetch = <A extends Message, E, R>(
    key: CacheKey<A>,
    ttlSeconds: number,
    fetch: Effect.Effect<A, E, R>,
    flight: Flight,
    lookup: Promise<Lookup>,
  ): Effect.Effect<A, E, R> =>
    Effect.flatMap(
      Effect.promise(() => lookup),
      (lookup) => {
        const series = seriesOf(key.namespace);
        const cached = valueOf(key, lookup);
        if (cached !== undefined) return hit(key, cached);
        if (lookup._tag === "error") {
          series.error.inc();
          outage.failed({ namespace: key.namespace, operation: "get", error: lookup.error });
        } else {
          series.miss.inc();
          if (lookup._tag === "miss") outage.recovered();
        }
        return Effect.tap(fetch, (value) =>
          Effect.sync(() => {
            if (!flight.stale) void write(key, value, ttlSeconds);
          }),
        );
      },
    );

  const join = <A, E, R>(flight: Flight, retry: () => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(
      Effect.callback<Exit.Exit<A, E>>((resume) => {
        const waiter = (exit: Exit.Exit<unknown, unknown>) => resume(Effect.succeed(exit as Exit.Exit<A, E>));
        flight.waiters.push(waiter);
        return Effect.sync(() => {
          const at = flight.waiters.indexOf(waiter);
          if (at >= 0) flight.waiters.splice(at, 1);
        });
      }),
      // The caller that fetched was interrupted: this caller tries on its own.
      (exit) => (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? retry() : exit),
    );

  const getOrFetchKey = <A extends Message, E, R>(
    key: CacheKey<A>,
    ttlSeconds: number,
    fetch: Effect.Effect<A, E, R>,
  ): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      const inFlight = flights.get(key.key);
      if (inFlight !== undefined) {
        coalesced.inc({ namespace: key.namespace });
        return join(inFlight, () => getOrFetchKey(key, ttlSeconds, fetch));
      }
      const lookup = store.get(key.key);
      // A store in this process answers at once: a hit is served here, without a flight.
      if (!(lookup instanceof Promise)) {
        const cached = valueOf(key, lookup);
        if (cached !== undefined) return hit(key, cached);
      }
      const flight: Flight = { waiters: [], stale: false };
      flights.set(key.key, flight);
      return Effect.onExit(lookupThenFetch(key, ttlSeconds, fetch, flight, Promise.resolve(lookup)), (exit) =>
        Effect.sync(() => {
          if (flights.get(key.key) === flight) flights.delete(key.key);
          for (const waiter of flight.waiters) waiter(exit);
        }),
      );
    });

  const forget = (matches: (key: string) => boolean) => {
    for (const [key, flight] of flights) {
      if (!matches(key)) continue;
      flight.stale = true;
      flights.delete(key);
    }
  };

  const reportFailure = (namespace: string) => (e: unknown) => {
    writeErrors.inc({ namespace, operation: "delete" });
    outage.failed({ namespace, operation: "delete", error: describe(e) });
  };

  return {
    getOrFetch: getOrFetchKey,
    invalidate: (...keys) =>
      Effect.promise(() => {
        const names = new Set(keys.map((k) => k.key));
        forget((key) => names.has(key));
        return store.delete([...names]).catch(reportFailure(keys[0]?.namespace ?? ""));
      }),
    invalidateUser: (userId) =>
      Effect.promise(() => {
        const prefix = userKeyPrefix(userId);
        forget((key) => key.startsWith(prefix));
        return store.deletePrefix(prefix).catch(reportFailure("user"));
      }),
  };
}

/**
 * The cached message of a lookup: held in memory as it is, or decoded from a shared store's bytes
 * (bytes that no longer decode, the message having changed incompatibly, count as a miss).
 */
function valueOf<A extends Message>(key: CacheKey<A>, lookup: Lookup): A | undefined {
  if (lookup._tag === "held") return lookup.message as A;
  if (lookup._tag !== "hit") return undefined;
  try {
    return fromBinary(key.schema, lookup.bytes);
  } catch {
    return undefined;
  }
}

const describe = (e: unknown): string => (e instanceof Error ? e.message || e.name : String(e));

