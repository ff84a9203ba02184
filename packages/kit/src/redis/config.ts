/**
 * Where a service's cache and event bus live: Redis at REDIS_URL, or in-process when it is unset.
 */
import { Config } from "effect";

/** REDIS_URL, read once at start. */
export interface RedisConfig {
  /** `redis://[:password@]host:port[/db]`; unset or empty selects the in-process cache and event bus. */
  readonly redisUrl: string | undefined;
  /** REDIS_KEY_PREFIX: put before every stream and cache key (default none), so deployments can share a Redis. */
  readonly keyPrefix: string;
}

/** REDIS_URL and REDIS_KEY_PREFIX (both optional). */
export const redisConfig: Config.Config<RedisConfig> = Config.all({
  redisUrl: Config.String("REDIS_URL").pipe(Config.withDefault<string | undefined>(undefined)),
  keyPrefix: Config.String("REDIS_KEY_PREFIX").pipe(Config.withDefault("")),
});
