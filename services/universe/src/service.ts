/**
 * The universe service as Layers, for its own process (main.ts) and for the
 * all-in-one launcher: its database (schema "universe", migrations applied at
 * start), its store, and its handlers.
 */
import { fileURLToPath } from "node:url";
import { Effect, Layer } from "effect";
import { layerDatabase, migrate, type PostgresError, type Sql } from "@meridian/kit/postgres";
import { universeHandlers } from "./handlers.js";
import { layerSecurityStore } from "./store.js";

/** This service's name: its schema, its log name, its data folder. */
export const name = "universe";

/** The folder of this service's SQL migrations. */
export const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

/** Applies the migrations once the pool is up; part of start-up. */
export const layerMigrations: Layer.Layer<never, PostgresError, Sql> = Layer.effectDiscard(
  Effect.asVoid(migrate(migrationsDir)),
);

/** The service's database: PostgreSQL at `databaseUrl`, or embedded PGlite under `dataDir`, migrated. */
export function layerUniverseDatabase(options: {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly schema?: string;
}): Layer.Layer<Sql, PostgresError> {
  const database = layerDatabase({ ...options, schema: options.schema ?? name });
  return Layer.provideMerge(layerMigrations, database);
}

/** The bound service, given a migrated database. */
export const universeService = universeHandlers;

/** The store, given a database; handlers read it. */
export const layerStore = layerSecurityStore;
