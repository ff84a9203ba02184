/**
 * The PostgreSQL store against the real server, in a schema of its own.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Effect, Layer, ManagedRuntime } from "effect";
import postgres from "postgres";
import { Sector } from "@meridian/sdk/universe";
import { layerStore, layerUniverseDatabase } from "./service.js";
import { SecurityStore } from "./store.js";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `universe_test_${process.pid}_${Date.now().toString(36)}`;
const runtime = ManagedRuntime.make(
  layerStore.pipe(Layer.provide(layerUniverseDatabase({ databaseUrl, dataDir: "", schema }))),
);
const store = () => runtime.runPromise(Effect.service(SecurityStore));

beforeAll(async () => {
  await store();
}, 30_000);

afterAll(async () => {
  await runtime.dispose();
  const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
});

describe("security store on PostgreSQL", () => {
  test("migrations load the dataset into the service's own schema", async () => {
    const rows = await runtime.runPromise(Effect.flatMap(Effect.service(SecurityStore), (s) => s.list({ sector: undefined, currency: undefined, active: undefined }, undefined, 1000)));
    expect(rows.length).toBeGreaterThanOrEqual(40);
    const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    const [count] = await admin`select count(*)::int as n from ${admin(schema)}.securities`;
    await admin.end();
    expect(count?.n).toBe(rows.length);
  });

  test("upsert is atomic per symbol under concurrency: one creates, the rest replace", async () => {
    const s = await store();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        runtime.runPromise(
          s.upsert({ symbol: "RACE", name: `Race ${i}`, sector: Sector.ENERGY, currency: "USD", active: true }),
        ),
      ),
    );
    expect(results.filter((r) => r.created).length).toBe(1);
    const row = await runtime.runPromise(s.get("RACE"));
    expect(row?.name).toMatch(/^Race \d+$/);
  });

  test("listing continues strictly after the cursor", async () => {
    const s = await store();
    const all = await runtime.runPromise(s.list({ sector: undefined, currency: undefined, active: undefined }, undefined, 1000));
    const after = await runtime.runPromise(s.list({ sector: undefined, currency: undefined, active: undefined }, all[4]!.symbol, 3));
    expect(after.map((r) => r.symbol)).toEqual(all.slice(5, 8).map((r) => r.symbol));
  });
});
