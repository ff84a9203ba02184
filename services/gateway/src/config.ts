/**
 * The gateway's own settings, read once at start (the downstream URLs and
 * policies are the kit's MERIDIAN_<SVC>_… variables, read by the locator).
 */
import { Config, Schema } from "effect";
import { corsConfig, corsOriginsConfig, positiveInt, type CorsOptions } from "@meridian/kit";
import type { Rate } from "@meridian/kit/rate-limit";
import { isWellFormedKey } from "./domain/api-keys.js";

/** What the gateway reads from the environment. */
export interface GatewaySettings {
  /**
   * GATEWAY_DEV_API_KEY: the key of owner "dev", stored (hashed) at start. Unset: a dev key is made
   * and logged once, at the first start only (when no key is stored).
   */
  readonly devApiKey: string | undefined;
  /** GATEWAY_STATUS_TIMEOUT_MS: how long GetSystemStatus waits for one service's readiness (default 2,000: a first gRPC health check opens a connection). */
  readonly statusTimeoutMs: number;
  /**
   * Each API key's request rate: GATEWAY_RATE_LIMIT_PER_SECOND sustained (default 100; 0 turns the
   * limit off) and GATEWAY_RATE_LIMIT_BURST at once (default twice the rate). Beyond it a call fails
   * with resource_exhausted, a RateLimited detail and `retry-after`. On Redis when REDIS_URL is set,
   * so every gateway instance shares one allowance per key.
   */
  readonly rateLimit: Rate | undefined;
}

const requestsPerSecond = Config.schema(
  Schema.FiniteFromString.pipe(Schema.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 1_000_000 }))),
  "GATEWAY_RATE_LIMIT_PER_SECOND",
).pipe(Config.withDefault(100));

const rateLimitConfig: Config.Config<Rate | undefined> = Config.all({
  perSecond: requestsPerSecond,
  burst: positiveInt("GATEWAY_RATE_LIMIT_BURST").pipe(Config.withDefault<number | undefined>(undefined)),
}).pipe(Config.map(({ perSecond, burst }) => (perSecond === 0 ? undefined : { perSecond, burst: burst ?? perSecond * 2 })));

/** GATEWAY_DEV_API_KEY (optional, `mk_` + 43 base64url characters), GATEWAY_STATUS_TIMEOUT_MS and the rate limit. */
export const gatewayConfig: Config.Config<GatewaySettings> = Config.all({
  devApiKey: Config.schema(
    Schema.String.pipe(
      Schema.check(
        Schema.makeFilter((key: string) => isWellFormedKey(key) || "expected mk_ followed by 43 base64url characters (32 random bytes)"),
      ),
    ),
    "GATEWAY_DEV_API_KEY",
  ).pipe(Config.withDefault<string | undefined>(undefined)),
  statusTimeoutMs: positiveInt("GATEWAY_STATUS_TIMEOUT_MS").pipe(Config.withDefault(2000)),
  rateLimit: rateLimitConfig,
});

/**
 * GATEWAY_CORS_ORIGINS: browser origins allowed to call the gateway (comma-separated, or "*");
 * unset: the kit's CORS_ALLOWED_ORIGINS; both unset: none (the status page is same-origin and needs none).
 */
export const gatewayCorsConfig: Config.Config<CorsOptions> = Config.all({
  gateway: corsOriginsConfig("GATEWAY_CORS_ORIGINS"),
  server: corsConfig,
}).pipe(Config.map(({ gateway, server }) => (gateway.allowedOrigins.length > 0 ? gateway : server)));
