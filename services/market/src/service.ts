/**
 * The market service as Layers, for its own process (main.ts) and for the all-in-one launcher:
 * its database (schema "market", migrations applied at start), outbox and relay, store, regime
 * (cache and refresher), the universe client, and the shipped dataset loaded on first start.
 */
import { fileURLToPath } from "node:url";
import { Config, Effect, Layer } from "effect";
import { defineService, readConfig, type ConfigInvalid, type Health, type Unavailable } from "@meridian/kit";
import type { Cache } from "@meridian/kit/cache";
import { layerClient } from "@meridian/kit/client";
import { EventBus, layerOutbox, layerOutboxRelay, type Outbox } from "@meridian/kit/events";
import { layerMigratedDatabase, layerSqlHealth, type PostgresError, type Sql } from "@meridian/kit/postgres";
import type { EffectClient } from "@meridian/sdk";
import { Universe } from "@meridian/sdk/universe";
import { marketHandlers } from "./handlers.js";
import { layerRegimes, type Regimes } from "./regime.js";
import { layerSeed, type SeedMode } from "./seeding.js";
import { layerMarketStore, type MarketStore } from "./store.js";

/** This service's name: its schema, its log name, its data folder, its events' source. */
export const name = "market";

/** The folder of this service's SQL migrations. */
export const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

/** What the market service is configured with, beyond the database. */
export interface MarketConfig {
  /** MARKET_SEED: "auto" (default) loads the shipped dataset into an empty database at start; "off" never does. */
  readonly seed: SeedMode;
}

/** MARKET_SEED. */
export const marketConfig: Config.Config<MarketConfig> = Config.all({
  seed: Config.Literals(["auto", "off"], "MARKET_SEED").pipe(Config.withDefault<SeedMode>("auto")),
});

/** Where the data lives and whether to seed it (unset: MARKET_SEED, read at start). */
export interface MarketSettings extends Partial<MarketConfig> {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
}

/** The service's database: PostgreSQL at `databaseUrl`, or embedded PGlite under `dataDir`, migrated. */
export function layerMarketDatabase(options: { readonly databaseUrl: string | undefined; readonly dataDir: string }): Layer.Layer<Sql, PostgresError> {
  return layerMigratedDatabase({ ...options, schema: name, migrationsDir });
}

/**
 * How often the outbox relay looks for new events when idle. Market events are rare (ingests,
 * regime changes) and a quarter second late is fine for them; polling an embedded PGlite every
 * 50 ms (the kit's default) cost about 15% of a core on an idle process.
 */
const relayPollIntervalMs = 250;

/** The bound service, given the resources of {@link layerMarket}. */
export const marketService = marketHandlers;

/** What the handlers run on. */
export type MarketResources = MarketStore | Regimes | Outbox | Sql | EffectClient<typeof Universe> | EventBus;

/**
 * Everything the service runs on, for main.ts and the launcher. Requires Health, Cache and
 * EventBus (from `layerBacking` or the launcher's shared ones) and, for the universe client,
 * MERIDIAN_UNIVERSE_URL or universe served in-process (LocalServices). The dataset is loaded
 * (MARKET_SEED=auto, empty database) before the Layer is built, so the service is never served half-seeded.
 */
export function layerMarket(
  settings: MarketSettings,
): Layer.Layer<MarketResources, PostgresError | Unavailable | ConfigInvalid, Health | Cache | EventBus> {
  const database = layerSqlHealth.pipe(Layer.provideMerge(layerMarketDatabase(settings)));
  const store = layerMarketStore.pipe(Layer.provideMerge(layerOutbox({ source: name })), Layer.provideMerge(database));
  const regimes = layerRegimes.pipe(Layer.provideMerge(store));
  const seed =
    settings.seed === undefined
      ? Layer.unwrap(Effect.map(readConfig(marketConfig), (config) => layerSeed(config.seed)))
      : layerSeed(settings.seed);
  return Layer.mergeAll(seed, layerOutboxRelay({ pollIntervalMs: relayPollIntervalMs })).pipe(
    Layer.provideMerge(regimes),
    Layer.merge(layerClient(Universe)),
    // WatchRegime follows the bus: handed on to the handlers with the rest.
    Layer.merge(Layer.effect(EventBus, Effect.service(EventBus))),
  );
}

/** The market service as the kit runs it, alone (main.ts) or with the others (the launcher). */
export const market = defineService({
  name,
  binding: marketService,
  resources: ({ database }) => layerMarket(database),
});
