/**
 * Rate limits: GCRA per key, on Redis when REDIS_URL is set, in-process otherwise, same semantics.
 */
export { decide, gcraParameters, validRate, type Decision, type Rate } from "./gcra.js";
export {
  layerMemoryRateLimiter,
  layerRedisRateLimiter,
  makeRateLimiter,
  memoryRateStore,
  RateLimiter,
  type RateLimit,
  type RateLimiterShape,
  type RateStore,
  type Verdict,
} from "./rate-limiter.js";
export { redisGcra, type RedisGcraOptions } from "./redis-gcra.js";
