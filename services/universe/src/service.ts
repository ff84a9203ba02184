/**
 * The universe service as Layers, for its own process (main.ts) and for the
 * all-in-one launcher: its database (schema "universe", migrations applied at
 * start), its store, and its handlers.
 */
import { fileURLToPath } from "node:url";
import { Layer } from "effect";
import { defineService, type Health } from "@meridian/kit";
import { layerMigratedDatabase, layerSqlHealth, type PostgresError, type Sql } from "@meridian/kit/postgres";
import { universeHandlers } from "./handlers.js";
import { layerSecurityStore, type SecurityStore } from "./store.js";

/** This service's name: its schema, its log name, its data folder. */
export const name = "universe";

/** The folder of this service's SQL migrations. */
export const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

/** The service's database: PostgreSQL at `databaseUrl`, or embedded PGlite under `dataDir`, migrated. */
export function layerUniverseDatabase(options: {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly schema?: string;
}): Layer.Layer<Sql, PostgresError> {
  return layerMigratedDatabase({ ...options, schema: options.schema ?? name, migrationsDir });
}

/** The bound service, given a migrated database. */
export const universeService = universeHandlers;

/** The store, given a database; handlers read it. */
export const layerStore = layerSecurityStore;

/** Everything the service runs on, for main.ts and the launcher: store, readiness check, migrated database. */
export function layerUniverse(database: {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
}): Layer.Layer<SecurityStore | Sql, PostgresError, Health> {
  return layerStore.pipe(Layer.provideMerge(layerSqlHealth), Layer.provideMerge(layerUniverseDatabase(database)));
}

/** The universe service as the kit runs it, alone (main.ts) or with the others (the launcher). */
export const universe = defineService({
  name,
  binding: universeService,
  resources: ({ database }) => layerUniverse(database),
});
