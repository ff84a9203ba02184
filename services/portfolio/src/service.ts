/**
 * The portfolio service as Layers, for its own process (main.ts) and for the all-in-one
 * launcher: its database (schema "portfolio", migrations applied at start), its store, the
 * market client, the outbox and its relay, and the consumer of fills. It requires (does not
 * build) Health and EventBus; LocalServices is used when present (market in-process).
 */
import { fileURLToPath } from "node:url";
import { Effect, Layer } from "effect";
import { defineService, readConfig, type ConfigInvalid, type Health, type Unavailable } from "@meridian/kit";
import { layerClient } from "@meridian/kit/client";
import { EventBus, layerOutbox, layerOutboxRelay, type Outbox, type RelayOptions } from "@meridian/kit/events";
import { layerMigratedDatabase, layerSqlHealth, type PostgresError, type Sql } from "@meridian/kit/postgres";
import type { EffectClient, PolicyOptions } from "@meridian/sdk";
import { Market } from "@meridian/sdk/market";
import { layerFillConsumer } from "./fills.js";
import { portfolioHandlers } from "./handlers.js";
import { layerPrices, type Prices } from "./prices.js";
import { defaultPortfolioOptions, layerPortfolioOptions, portfolioConfig, type PortfolioOptions, type PortfolioTuning } from "./settings.js";
import { layerPortfolioStore, type PortfolioStore } from "./store.js";

export { portfolioConfig, defaultPortfolioOptions, type PortfolioOptions } from "./settings.js";
export { AccountChangedEvent, OrderFilledEvent, consumerGroup } from "./events.js";

/** This service's name: its schema, its log name, its events' source, its consumer group. */
export const name = "portfolio";

/** The folder of this service's SQL migrations. */
export const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

/** The bound service, given the Layers of {@link layerPortfolio}. */
export const portfolioService = portfolioHandlers;

/**
 * Calls to market: a short deadline and one quick retry (a portfolio read falls back to the last
 * known prices after PORTFOLIO_QUOTE_TIMEOUT_MS anyway), then the breaker answers at once for 5 s.
 * MERIDIAN_MARKET_* variables override.
 */
export const marketPolicy: PolicyOptions = {
  timeoutMs: 2000,
  retry: { maxAttempts: 2, baseDelayMs: 25, maxDelayMs: 200 },
  breaker: { consecutiveFailures: 5, openMs: 5000 },
};

/** What the service's Layers are built from. */
export interface PortfolioSettings {
  readonly database: { readonly databaseUrl: string | undefined; readonly dataDir: string };
  /** The schema (default "portfolio"; tests may use their own). */
  readonly schema?: string;
  /** Tuning (default {@link defaultPortfolioOptions}); main.ts reads it from PORTFOLIO_* variables. */
  readonly options?: PortfolioOptions;
  /** Variables to read the market client's configuration from instead of the process's (tests). */
  readonly env?: Record<string, string | undefined>;
  readonly relay?: RelayOptions;
  /** This instance's consumer name in group "portfolio" (default host-pid-n). */
  readonly consumerName?: string;
}

/** What the service's Layers provide. */
export type PortfolioResources = PortfolioStore | Prices | EffectClient<typeof Market> | PortfolioTuning | Outbox | Sql | EventBus;

/**
 * Everything the service runs on, for main.ts and the launcher: the migrated database, its
 * readiness check, the store, the market client and prices, the outbox with its relay, and the
 * fill consumer. Released in reverse: the consumer and relay stop before the pool closes.
 */
export function layerPortfolio(
  settings: PortfolioSettings,
): Layer.Layer<PortfolioResources, ConfigInvalid | PostgresError | Unavailable, Health | EventBus> {
  const options = settings.options ?? defaultPortfolioOptions;
  const database = layerMigratedDatabase({ ...settings.database, schema: settings.schema ?? name, migrationsDir });
  const market = layerClient(Market, { policy: marketPolicy, ...(settings.env === undefined ? {} : { env: settings.env }) });
  const workers = Layer.mergeAll(
    layerFillConsumer({
      claimIdleMs: options.claimIdleMs,
      ...(settings.consumerName === undefined ? {} : { consumer: settings.consumerName }),
    }),
    // AccountChanged only feeds live views: a tenth of a second late is fine. An idle relay then
    // costs 10 rounds a second instead of 20 (it matters on embedded PGlite), and under a steady
    // stream of fills it lingers 100 ms, not 20, after a small round: at 300 and 600 orders/s,
    // portfolio's CPU per order −15 % in 2 paired runs (bench/platform/results.md).
    layerOutboxRelay(settings.relay ?? { pollIntervalMs: 100, lingerMs: 100 }),
  );
  // The bus passes through: WatchPortfolio follows AccountChanged on it.
  const bus = Layer.effect(EventBus, Effect.service(EventBus));
  return Layer.mergeAll(workers, bus, layerPortfolioStore, layerPrices({ quoteTimeoutMs: options.quoteTimeoutMs, quoteTtlMs: options.quoteTtlMs }), layerPortfolioOptions(options)).pipe(
    Layer.provideMerge(layerOutbox({ source: name })),
    Layer.provideMerge(layerSqlHealth),
    Layer.provideMerge(database),
    Layer.provideMerge(market),
  );
}

/**
 * The portfolio service as the kit runs it, alone (main.ts: `runService(portfolio)`) or with the
 * others (the launcher). Its PORTFOLIO_* variables are read as its resources are built.
 */
export const portfolio = defineService({
  name,
  binding: portfolioService,
  resources: ({ database }) =>
    Layer.unwrap(Effect.map(readConfig(portfolioConfig), (options) => layerPortfolio({ database, options }))),
});
