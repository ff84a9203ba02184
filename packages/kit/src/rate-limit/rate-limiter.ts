/**
 * Rate limits for services (e.g. the gateway's per-API-key limit): `take(limit, key)` spends one
 * request of `key`'s allowance under a named limit, or fails with the typed `RateLimited` and
 * when to come back. On Redis when REDIS_URL is set (one allowance for every instance of the
 * service), in-process otherwise. A limiter that cannot answer (Redis down or slow) lets the
 * request through: an outage of the limiter must not become an outage of the service; it is logged
 * and counted.
 */
import { Context, Effect, Layer } from "effect";
import { RateLimited } from "../errors.js";
import { outageLog } from "../redis/outage-log.js";
import { Redis } from "../redis/connection.js";
import { metrics } from "../telemetry/metrics.js";
import { decide, type Rate } from "./gcra.js";
import { redisGcra, type RedisGcraOptions } from "./redis-gcra.js";

/** A named limit: its name labels metrics and keys; its rate applies to each key separately. */
export interface RateLimit extends Rate {
  readonly name: string;
}

/** A limiter's answer about one request: allowed, limited (retry after ms) or unknown (the limiter failed). */
export type Verdict =
  | { readonly _tag: "allowed" }
  | { readonly _tag: "limited"; readonly retryAfterMs: number }
  | { readonly _tag: "unknown"; readonly error: string };

/** Where allowances are kept. */
export interface RateStore {
  readonly take: (limit: RateLimit, key: string) => Promise<Verdict>;
}

/** What a service uses. */
export interface RateLimiterShape {
  /** Spends one request of `key`'s allowance under `limit`; RateLimited beyond it. */
  readonly take: (limit: RateLimit, key: string) => Effect.Effect<void, RateLimited>;
}

/** The rate limiter of this service. */
export class RateLimiter extends Context.Service<RateLimiter, RateLimiterShape>()("@meridian/kit/RateLimiter") {}

const requests = metrics.counter(
  "rate_limit_requests_total",
  "Requests checked against a rate limit, by limit and result (allowed, limited, error: allowed because the limiter failed).",
  ["limit", "result"],
);

/** A limiter over `store`. */
export function makeRateLimiter(store: RateStore): RateLimiterShape {
  const outage = outageLog("rate limiter unavailable: requests are let through");
  return {
    take: (limit, key) =>
      Effect.flatMap(
        Effect.promise(() => store.take(limit, key)),
        (verdict) => {
          switch (verdict._tag) {
            case "allowed":
              requests.inc({ limit: limit.name, result: "allowed" });
              outage.recovered();
              return Effect.void;
            case "limited":
              requests.inc({ limit: limit.name, result: "limited" });
              outage.recovered();
              return Effect.fail(new RateLimited({ retryAfterMs: BigInt(verdict.retryAfterMs) }, rateLimitedMessage(limit, verdict.retryAfterMs)));
            case "unknown":
              requests.inc({ limit: limit.name, result: "error" });
              outage.failed({ limit: limit.name, error: verdict.error });
              return Effect.void;
          }
        },
      ),
  };
}

/** What a limited caller reads: the limit and when to retry. */
function rateLimitedMessage(limit: RateLimit, retryAfterMs: number): string {
  return `rate limit exceeded (${limit.name}: ${limit.perSecond} requests/s, bursts of ${limit.burst}); retry after ${retryAfterMs} ms`;
}

/** Allowances in this process (the embedded default): GCRA over a map, expired keys swept as it grows. */
export function memoryRateStore(now: () => number = Date.now): RateStore {
  const tats = new Map<string, number>();
  let sweepAt = 1024;
  return {
    take: (limit, key) => {
      const at = now();
      const id = `${limit.name}\u0000${key}`;
      const decision = decide(at, tats.get(id), limit);
      if (!decision.allowed) return Promise.resolve({ _tag: "limited", retryAfterMs: decision.retryAfterMs });
      tats.set(id, decision.tat);
      if (tats.size >= sweepAt) {
        for (const [k, tat] of tats) if (tat <= at) tats.delete(k);
        sweepAt = Math.max(1024, tats.size * 2);
      }
      return Promise.resolve({ _tag: "allowed" });
    },
  };
}

/** Provides the in-process rate limiter. */
export const layerMemoryRateLimiter = (): Layer.Layer<RateLimiter> => Layer.sync(RateLimiter, () => makeRateLimiter(memoryRateStore()));

/** Provides the rate limiter on Redis; keys are `keyPrefix` + `ratelimit:<limit>:<key>`. */
export const layerRedisRateLimiter = (options: RedisGcraOptions = {}): Layer.Layer<RateLimiter, never, Redis> =>
  Layer.effect(
    RateLimiter,
    Effect.map(Effect.service(Redis), ({ client }) => makeRateLimiter(redisGcra(client, options))),
  );
