import { afterAll, describe, expect, test } from "bun:test";
import { Effect, Layer } from "effect";
import postgres from "postgres";
import { metrics } from "../telemetry/metrics.js";
import { layerSqlMetrics } from "./metrics.js";
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
