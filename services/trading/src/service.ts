/**
 * The trading service as Layers, for its own process (main.ts) and for the
 * all-in-one launcher: its database (schema "trading", migrated at start), the
 * outbox and its relay, the store, the clients of universe, portfolio and
 * market, the limit-order consumer, and its settings.
 *
 * Required from the host: Health, Cache and EventBus (main.ts: layerBacking;
 * the launcher: its shared ones), and LocalServices where the downstream
 * services run in the same process.
 */
import { fileURLToPath } from "node:url";
import { Effect, Layer } from "effect";
import { defineService, readConfig, type ConfigInvalid, type DatabaseConfig, type Health, type Unavailable } from "@meridian/kit";
import type { Cache } from "@meridian/kit/cache";
import { layerClient } from "@meridian/kit/client";
import { layerOutbox, layerOutboxRelay, type EventBus, type RelayOptions } from "@meridian/kit/events";
import { layerMigratedDatabase, layerSqlHealth, type PostgresError, type Sql } from "@meridian/kit/postgres";
import { Market } from "@meridian/sdk/market";
import { Portfolio } from "@meridian/sdk/portfolio";
import { Universe } from "@meridian/sdk/universe";
import { layerTradingSettings, tradingConfig, type TradingConfig, type TradingSettings } from "./config.js";
import { Downstream, layerDownstream, layerNearCache, layerQuoteFollower } from "./downstream.js";
import { tradingHandlers } from "./handlers.js";
import { layerRestingOrderConsumer } from "./resting-consumer.js";
import { layerOrderStore, type OrderStore } from "./store.js";

/** This service's name: its schema, its log name, its events' source, its consumer group. */
export const name = "trading";

/** The folder of this service's SQL migrations. */
export const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

/** The bound service: PlaceOrder, CancelOrder, GetOrder, ListOrders. */
export const tradingService = tradingHandlers;

export { tradingConfig, type TradingSettings } from "./config.js";

/** Options of {@link layerTrading} beyond the database. */
export interface TradingOptions {
  /** Slippage and fees; read from TRADING_SLIPPAGE_BPS / TRADING_FEE_BPS when not given. */
  readonly settings?: TradingSettings;
  readonly relay?: RelayOptions;
}

/** The service's database: PostgreSQL at `databaseUrl`, or embedded PGlite under `dataDir`, migrated. */
export function layerTradingDatabase(database: DatabaseConfig): Layer.Layer<Sql, PostgresError> {
  return layerMigratedDatabase({ ...database, schema: name, migrationsDir });
}

/**
 * Everything the service runs on: database, readiness check, outbox and relay, store, clients
 * (MERIDIAN_UNIVERSE_URL, MERIDIAN_PORTFOLIO_URL, MERIDIAN_MARKET_URL, or in-process), the
 * limit-order consumer and the settings.
 */
export function layerTrading(
  database: DatabaseConfig,
  options: TradingOptions = {},
): Layer.Layer<OrderStore | Downstream | Sql | TradingConfig | ClientsOf, PostgresError | ConfigInvalid | Unavailable, Health | Cache | EventBus> {
  const settings = Layer.unwrap(
    Effect.map(options.settings === undefined ? readConfig(tradingConfig) : Effect.succeed(options.settings), layerTradingSettings),
  );
  const clients = Layer.mergeAll(layerClient(Universe), layerClient(Portfolio), layerClient(Market));
  const db = layerTradingDatabase(database);
  const store = layerOrderStore.pipe(Layer.provide(layerOutbox({ source: name })));
  const background = Layer.mergeAll(layerOutboxRelay(options.relay), layerRestingOrderConsumer, layerQuoteFollower);
  return Layer.merge(background, layerDownstream).pipe(
    Layer.provideMerge(Layer.mergeAll(store, settings, clients, layerSqlHealth, layerNearCache)),
    Layer.provideMerge(db),
  );
}

type ClientsOf = Layer.Success<ReturnType<typeof layerClient<typeof Universe>>> | Layer.Success<ReturnType<typeof layerClient<typeof Portfolio>>> | Layer.Success<ReturnType<typeof layerClient<typeof Market>>>;

/** The trading service as the kit runs it, alone (main.ts) or with the others (the launcher). */
export const trading = defineService({
  name,
  binding: tradingService,
  resources: ({ database }) => layerTrading(database),
});
