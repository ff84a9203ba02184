/**
 * The portfolio service in this process for tests: on a fresh database of the real PostgreSQL,
 * with its event bus on the real Redis under a key prefix of its own, called through the typed
 * Effect client over the in-process transport. Market is what the caller says: a URL (none
 * listening, to test the fallback) or services served in-process.
 */
import { Effect, Layer, ManagedRuntime } from "effect";
import { inProcess, layerHealth, layerLifecycle, type Health } from "@meridian/kit";
import { layerMemoryCache, type Cache } from "@meridian/kit/cache";
import type { LocalServices } from "@meridian/kit/client";
import { layerRedisEventBus, type EventBus } from "@meridian/kit/events";
import { layerRedis } from "@meridian/kit/redis";
import { dropRedisKeys, postgresDatabase, type TestDatabase } from "@meridian/kit/testing";
import { createEffectClient, type EffectClient } from "@meridian/sdk";
import { Portfolio } from "@meridian/sdk/portfolio";
import { layerPortfolio, name, portfolioService, type PortfolioOptions } from "../src/service.js";

export const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** The bus on the real Redis, prefixed for this run. */
export function layerTestBus(keyPrefix: string, source = name): Layer.Layer<EventBus> {
  return layerRedisEventBus({ source, keyPrefix }).pipe(Layer.provide(layerRedis({ url: redisUrl })), Layer.orDie);
}

/** A running portfolio service and what the test needs around it. */
export interface Harness {
  readonly client: EffectClient<typeof Portfolio>;
  readonly database: TestDatabase;
  readonly databaseUrl: string;
  readonly keyPrefix: string;
  readonly bus: Layer.Layer<EventBus>;
  /** The service's resources (e.g. its market client), as they are now. */
  readonly runtime: { readonly runPromise: <A, E>(effect: Effect.Effect<A, E, any>) => Promise<A> };
  /** Stops the service (consumer, relay, pool) as a process shutdown would, and starts it again on the same data. */
  readonly restart: () => Promise<void>;
  readonly dispose: () => Promise<void>;
}

/** Options of a test service. */
export interface HarnessOptions {
  /** MERIDIAN_MARKET_URL (default: a port nothing listens on). */
  readonly marketUrl?: string;
  /** Market (and what it needs) served in this process instead, on the harness's bus, a memory cache and health. */
  readonly local?: Layer.Layer<LocalServices, unknown, Health | Cache | EventBus>;
  readonly options?: Partial<PortfolioOptions>;
  /** An existing database (default: a fresh one). */
  readonly database?: TestDatabase;
}

/** Starts the service. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const database = options.database ?? (await postgresDatabase());
  const databaseUrl = database.env.DATABASE_URL!;
  const keyPrefix = `test:portfolio:${crypto.randomUUID().slice(0, 8)}:`;
  const bus = layerTestBus(keyPrefix);
  const env = options.local === undefined ? { MERIDIAN_MARKET_URL: options.marketUrl ?? "http://127.0.0.1:9" } : {};
  const build = () => {
    const portfolio = layerPortfolio({
      database: { databaseUrl, dataDir: "" },
      env,
      options: { quoteTimeoutMs: 1_000, quoteTtlMs: 60_000, watchRecheckMs: 5_000, claimIdleMs: 2_000, ...options.options },
      relay: { pollIntervalMs: 20 },
    });
    const withMarket = options.local === undefined ? portfolio : portfolio.pipe(Layer.provide(options.local));
    return ManagedRuntime.make(
      withMarket.pipe(Layer.provideMerge(bus), Layer.provideMerge(layerMemoryCache()), Layer.provideMerge(layerHealth.pipe(Layer.provide(layerLifecycle)))),
    );
  };
  let runtime = build();
  let transport = await runtime.runPromise(inProcess([portfolioService]));
  // The client goes through a transport that follows restarts.
  const client = createEffectClient(Portfolio, {
    transport: {
      unary: (...args) => transport.unary(...args),
      stream: (...args) => transport.stream(...args),
    },
  });
  return {
    client,
    database,
    databaseUrl,
    keyPrefix,
    bus,
    runtime: { runPromise: (effect) => runtime.runPromise(effect) },
    restart: async () => {
      await runtime.dispose();
      runtime = build();
      transport = await runtime.runPromise(inProcess([portfolioService]));
    },
    dispose: async () => {
      await runtime.dispose();
      await database.drop();
      await dropRedisKeys(redisUrl, keyPrefix);
    },
  };
}


