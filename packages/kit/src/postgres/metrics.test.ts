import { afterAll, describe, expect, test } from "bun:test";
import { Effect, Layer } from "effect";
import postgres from "postgres";
import { metrics } from "../telemetry/metrics.js";
import { layerSqlMetrics } from "./metrics.js";
import { query } from "./query.js";
import { layerSql } from "./sql.js";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `t_${Math.random().toString(36).slice(2, 10)}`;

afterAll(async () => {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
});

describe("layerSqlMetrics", () => {
  test("publishes the pool's size under its schema while the pool lives, and nothing after", async () => {
    const series = `postgres_pool_max_connections{pool="${schema}"} 3`;
    const rendered = await Effect.runPromise(
      Effect.sync(() => metrics.render()).pipe(
        Effect.provide(layerSqlMetrics.pipe(Layer.provideMerge(layerSql({ url, schema, maxConnections: 3 })))),
      ),
    );
    expect(rendered.split("\n")).toContain(series);
    expect(metrics.render()).not.toContain(series);
  });
});

describe("pool usage", () => {
  test("queries through `query` are counted per pool: in flight while running, durations, failures", async () => {
    const pool = `${schema}_usage`;
    const value = (text: string, series: string) => text.split("\n").find((l) => l.startsWith(series))?.split(" ")[1];
    const seen = await Effect.runPromise(
      Effect.gen(function* () {
        const during = yield* query(async () => metrics.render());
        yield* query((sql) => sql`select 1`);
        yield* Effect.exit(query((sql) => sql`select 1 from no_such_table`));
        const after = metrics.render();
        yield* query((sql) => sql`drop schema ${sql(pool)} cascade`);
        return { during, after };
      }).pipe(Effect.provide(layerSql({ url, schema: pool, maxConnections: 2 }))),
    );
    expect(value(seen.during, `postgres_queries_in_flight{pool="${pool}"}`)).toBe("1");
    expect(value(seen.after, `postgres_queries_in_flight{pool="${pool}"}`)).toBe("0");
    expect(Number(value(seen.after, `postgres_query_duration_seconds_count{pool="${pool}"}`))).toBe(3);
    expect(value(seen.after, `postgres_query_failures_total{pool="${pool}",kind="query"}`)).toBe("1");
  });
});
