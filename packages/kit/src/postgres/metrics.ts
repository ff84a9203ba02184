/**
 * PostgreSQL pool metrics in the one registry. postgres.js (3.4) keeps its
 * connection queues (open, busy, connecting, closed) private and has no
 * open/acquire hook: the pool's size limit is published as it is, and its use
 * is measured where queries run (`query`): queries in flight, their durations
 * and failures, per pool.
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

const inFlight = metrics.gauge(
  "postgres_queries_in_flight",
  "Queries (and transactions) running now, by pool: how busy its connections are.",
  ["pool"],
);
const durations = metrics.histogram("postgres_query_duration_seconds", "Time per query or transaction, by pool.", ["pool"]);
const failures = metrics.counter("postgres_query_failures_total", "Failed queries, by pool and kind (connection or query).", [
  "pool",
  "kind",
]);

/** The usage series of one pool, bound once. */
export interface PoolUsage {
  readonly started: () => void;
  readonly finished: (seconds: number, failure?: "connection" | "query") => void;
}

const usageByPool = new WeakMap<object, PoolUsage>();

/** Usage metrics of a pool (in flight, durations, failures), made on first use. */
export function poolUsage(sql: { readonly options: { readonly connection?: Readonly<Record<string, unknown>> } }): PoolUsage {
  let usage = usageByPool.get(sql);
  if (usage === undefined) {
    const pool = poolNameOf(sql.options);
    const running = inFlight.bind({ pool });
    const duration = durations.bind({ pool });
    usage = {
      started: () => running.inc(),
      finished: (seconds, failure) => {
        running.dec();
        duration.observe(seconds);
        if (failure !== undefined) failures.inc({ pool, kind: failure });
      },
    };
    usageByPool.set(sql, usage);
  }
  return usage;
}

/** The schema the pool's connections use (their search_path), else "default". */
export function poolNameOf(options: { readonly connection?: Readonly<Record<string, unknown>> }): string {
  const path = options.connection?.["search_path"];
  return typeof path === "string" && path !== "" ? path.replace(/^"|"$/g, "").replaceAll('""', '"') : "default";
}
