/**
 * The database a service gets: real PostgreSQL when a URL is configured, embedded PGlite otherwise.
 */
import { join } from "node:path";
import { Effect, Layer } from "effect";
import { layerEmbeddedPostgres, EmbeddedPostgres } from "./embedded.js";
import type { MigrationError, PostgresUnavailable } from "./errors.js";
import { migrate } from "./migrations.js";
import { layerSqlMetrics } from "./metrics.js";
import { layerSql, Sql } from "./sql.js";

const embeddedConnectTimeoutSeconds = 60;

/** Where a service's data lives. */
export interface DatabaseOptions {
  /** DATABASE_URL; unset or empty selects the embedded database. */
  readonly databaseUrl: string | undefined;
  /** Parent directory of the embedded data; each schema gets its own PGlite in `dataDir/<schema>`. */
  readonly dataDir: string;
  readonly schema: string;
}

/**
 * Provides `Sql` in `schema`: a pool of 10 on `databaseUrl` when set, else one connection to a
 * PGlite of its own under `dataDir` (so services sharing `dataDir` never share a session).
 */
export const layerDatabase = (options: DatabaseOptions): Layer.Layer<Sql, PostgresUnavailable> => {
  if (options.databaseUrl !== undefined && options.databaseUrl !== "") {
    return withMetrics(layerSql({ url: options.databaseUrl, schema: options.schema, maxConnections: 10 }));
  }
  // One PGlite per schema: PGlite has a single session, so two services on one instance would
  // overwrite each other's search_path (see embedded.ts).
  const dataDir = join(options.dataDir, encodeURIComponent(options.schema));
  return withMetrics(
    Layer.unwrap(
      Effect.gen(function* () {
        const { url } = yield* EmbeddedPostgres;
        // In this process, so a slow answer is a busy CPU (WASM start-up, a loaded machine), not a
        // network that will never answer: wait longer than for a remote server.
        return layerSql({ url, schema: options.schema, maxConnections: 1, connectTimeoutSeconds: embeddedConnectTimeoutSeconds });
      }),
    ).pipe(Layer.provide(layerEmbeddedPostgres(dataDir))),
  );
};

/**
 * A service's database as every service needs it: the pool in its own schema (see
 * {@link layerDatabase}), migrated before anything uses it.
 */
export const layerMigratedDatabase = (
  options: DatabaseOptions & { readonly migrationsDir: string },
): Layer.Layer<Sql, PostgresUnavailable | MigrationError> =>
  Layer.provideMerge(Layer.effectDiscard(Effect.asVoid(migrate(options.migrationsDir))), layerDatabase(options));

/** The pool, with its metrics published while it lives. */
function withMetrics<E>(pool: Layer.Layer<Sql, E>): Layer.Layer<Sql, E> {
  return Layer.provideMerge(layerSqlMetrics, pool);
}
