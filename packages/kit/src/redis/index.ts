/**
 * Redis for services: the connection Layer, its readiness check, REDIS_URL.
 */
export { layerRedis, Redis, type RedisClient, type RedisConnection, type RedisOptions } from "./connection.js";
export { layerRedisHealth } from "./health.js";
export { redisConfig, type RedisConfig } from "./config.js";
export { RedisUnavailable } from "./errors.js";
