/**
 * A service's backing services for cache, events and rate limits: Redis at
 * REDIS_URL (one connection shared by all three, reported to /readyz), or,
 * when REDIS_URL is unset, the in-process implementations with the same
 * semantics. Every in-process bus of one process shares its streams, so the
 * services of the all-in-one launcher see each other's events.
 */
import { Layer } from "effect";
import { layerMemoryCache, layerRedisCache, type Cache, type CacheOptions } from "./cache/index.js";
import { layerMemoryEventBus, layerRedisEventBus, type EventBus, type EventBusOptions } from "./events/index.js";
import type { Health } from "./health.js";
import { layerMemoryRateLimiter, layerRedisRateLimiter, type RateLimiter, type RedisGcraOptions } from "./rate-limit/index.js";
import { layerRedis, layerRedisHealth, type RedisUnavailable } from "./redis/index.js";

/** What the backing services are built from. */
export interface BackingOptions {
  /** REDIS_URL, or undefined for the in-process implementations. */
  readonly redisUrl: string | undefined;
  /** The service publishing events: every envelope's `source`. */
  readonly source: string;
  readonly events?: Omit<EventBusOptions, "source">;
  readonly cache?: CacheOptions;
  readonly rateLimits?: RedisGcraOptions;
}

/** Provides Cache, EventBus and RateLimiter on Redis (one connection, released last) or in-process; fails at start if Redis is configured and unreachable. */
export function layerBacking(options: BackingOptions): Layer.Layer<Cache | EventBus | RateLimiter, RedisUnavailable, Health> {
  const events = { ...options.events, source: options.source };
  if (options.redisUrl === undefined || options.redisUrl === "") {
    return Layer.mergeAll(layerMemoryCache(options.cache), layerMemoryEventBus(events), layerMemoryRateLimiter());
  }
  const redis = layerRedisHealth().pipe(Layer.provideMerge(layerRedis({ url: options.redisUrl })));
  return Layer.mergeAll(layerRedisCache(options.cache), layerRedisEventBus(events), layerRedisRateLimiter(options.rateLimits)).pipe(
    Layer.provide(redis),
  );
}
