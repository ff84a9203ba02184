/**
 * Cache-aside for services: Redis when REDIS_URL is set, in-process otherwise, same semantics.
 */
export {
  Cache,
  getOrFetch,
  layerCacheFor,
  layerMemoryCache,
  layerRedisCache,
  makeCache,
  type CacheOptions,
  type CacheShape,
} from "./cache.js";
export { sharedKey, userKey, userKeyPrefix, type CacheKey } from "./keys.js";
export { LruMap } from "./lru.js";
export { memoryStore } from "./memory-store.js";
export { redisStore, type RedisStoreOptions } from "./redis-store.js";
export type { CacheStore, Lookup } from "./store.js";
