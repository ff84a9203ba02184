/**
 * PostgreSQL pool metrics in the one registry. postgres.js (3.4) keeps its
 * connection queues (open, busy, connecting, closed) private and has no
 * open/acquire hook, so the pool's size limit is all it exposes: open, idle
 * and busy counts need an upstream hook (or a counting `socket` option set in
 * `layerSql`), not reads of its internals.
 */
import { Effect, Layer } from "effect";
import { metrics } from "../telemetry/metrics.js";
import { Sql } from "./sql.js";

const maxConnections = metrics.gauge(
  "postgres_pool_max_connections",
  "Connections the pool may open, by pool (its schema).",
  ["pool"],
);

/** Publishes the pool's metrics, labelled by its schema, while the Layer lives. */
export const layerSqlMetrics: Layer.Layer<never, never, Sql> = Layer.effectDiscard(
  Effect.flatMap(Effect.service(Sql), (sql) => {
    const labels = { pool: poolNameOf(sql.options) };
    return Effect.acquireRelease(
      Effect.sync(() => maxConnections.collect(() => [{ labels, value: sql.options.max }])),
      (stop) => Effect.sync(stop),
    );
  }),
);

/** The schema the pool's connections use (their search_path), else "default". */
function poolNameOf(options: { readonly connection?: Readonly<Record<string, unknown>> }): string {
  const path = options.connection?.["search_path"];
  return typeof path === "string" && path !== "" ? path.replace(/^"|"$/g, "").replaceAll('""', '"') : "default";
}
