/**
 * The configuration of one downstream, read from `MERIDIAN_<NAME>_…`
 * variables and validated at start-up: where it is (none: in-process), which
 * protocol, and any policy setting that differs from the SDK's defaults.
 */
import { Config, Schema } from "effect";
import type { BalancerKind, PolicyOptions } from "@meridian/sdk";
import { positiveInt } from "../config.js";

/** How a remote downstream is called: Connect over HTTP/1.1 (fetch), gRPC over HTTP/2, or gRPC-Web over HTTP/1.1. */
export type DownstreamProtocol = "connect" | "grpc" | "grpc-web";

/** One downstream's configuration. */
export interface DownstreamConfig {
  /** e.g. "universe"; the variables are MERIDIAN_UNIVERSE_… */
  readonly name: string;
  /** Base URLs of its endpoints; empty when MERIDIAN_<NAME>_URL is unset (call it in-process). */
  readonly endpoints: ReadonlyArray<string>;
  readonly protocol: DownstreamProtocol;
  /** Only the settings the environment sets; the rest keep the code's and the SDK's defaults. */
  readonly policy: PolicyOptions;
}

/** The prefix of a downstream's variables: "universe" → "MERIDIAN_UNIVERSE_". */
export function envPrefix(name: string): string {
  return `MERIDIAN_${name.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}_`;
}

/**
 * The schema of a downstream's variables (prefix MERIDIAN_<NAME>_): URL
 * (comma-separated), PROTOCOL, TIMEOUT_MS, RETRIES, BALANCER, BREAKER_FAILURES,
 * BREAKER_FAILURE_RATE, BREAKER_WINDOW_MS, BREAKER_MIN_CALLS, BREAKER_OPEN_MS,
 * BULKHEAD_CONCURRENCY, BULKHEAD_QUEUE. A bad value fails naming its variable.
 */
export function downstreamConfig(name: string): Config.Config<DownstreamConfig> {
  const v = (suffix: string) => `${envPrefix(name)}${suffix}`;
  const optional = <A>(config: Config.Config<A>) => config.pipe(Config.withDefault<A | undefined>(undefined));
  return Config.all({
    urls: optional(urlList(v("URL"))),
    protocol: Config.Literals(["connect", "grpc", "grpc-web"], v("PROTOCOL")).pipe(
      Config.withDefault<DownstreamProtocol>("connect"),
    ),
    timeoutMs: optional(positiveInt(v("TIMEOUT_MS"))),
    retries: optional(nonNegativeInt(v("RETRIES"))),
    balancer: optional(Config.Literals(["round_robin", "least_outstanding"], v("BALANCER"))),
    breakerFailures: optional(positiveInt(v("BREAKER_FAILURES"))),
    breakerFailureRate: optional(fraction(v("BREAKER_FAILURE_RATE"))),
    breakerWindowMs: optional(positiveInt(v("BREAKER_WINDOW_MS"))),
    breakerMinCalls: optional(positiveInt(v("BREAKER_MIN_CALLS"))),
    breakerOpenMs: optional(positiveInt(v("BREAKER_OPEN_MS"))),
    bulkheadConcurrency: optional(positiveInt(v("BULKHEAD_CONCURRENCY"))),
    bulkheadQueue: optional(nonNegativeInt(v("BULKHEAD_QUEUE"))),
  }).pipe(
    Config.map((c) => ({
      name,
      endpoints: c.urls ?? [],
      protocol: c.protocol,
      policy: definedOnly({
        timeoutMs: c.timeoutMs,
        retry: c.retries === undefined ? undefined : { maxAttempts: c.retries + 1 },
        balancer: c.balancer as BalancerKind | undefined,
        breaker: definedOnly({
          consecutiveFailures: c.breakerFailures,
          failureRate: c.breakerFailureRate,
          windowMs: c.breakerWindowMs,
          minimumCalls: c.breakerMinCalls,
          openMs: c.breakerOpenMs,
        }),
        bulkhead: definedOnly({ maxConcurrent: c.bulkheadConcurrency, maxQueue: c.bulkheadQueue }),
      }) as PolicyOptions,
    })),
  );
}

/** Comma-separated http(s) URLs, trimmed, without trailing slashes. */
function urlList(name: string): Config.Config<ReadonlyArray<string>> {
  const check = Schema.makeFilter((value: string) => {
    const urls = value.split(",").map((u) => u.trim());
    for (const url of urls) {
      if (url === "") return "has an empty entry (expected comma-separated http(s) URLs)";
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return `"${url}" is not a URL`;
      }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return `"${url}" is not an http(s) URL`;
    }
    return true;
  });
  return Config.schema(Schema.String.pipe(Schema.check(check)), name).pipe(
    Config.map((value) => value.split(",").map((u) => u.trim().replace(/\/+$/, ""))),
  );
}

function nonNegativeInt(name: string): Config.Config<number> {
  return Config.schema(
    Schema.FiniteFromString.pipe(Schema.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 1_000_000 }))),
    name,
  );
}

function fraction(name: string): Config.Config<number> {
  return Config.schema(Schema.FiniteFromString.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 1 }))), name);
}

/** Drops undefined fields (and settings groups left empty), so they do not override the code's policy. */
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined && !(isPlainObject(v) && Object.keys(v).length === 0)),
  ) as T;
}

function isPlainObject(value: unknown): value is object {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
