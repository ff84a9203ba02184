import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Effect } from "effect";
import postgres from "postgres";
import { layerDatabase } from "./database.js";
import { EmbeddedPostgres, layerEmbeddedPostgres } from "./embedded.js";
import { PostgresUnavailable } from "./errors.js";
import { migrate } from "./migrations.js";
import { layerSql, Sql } from "./sql.js";

const root = mkdtempSync(join(tmpdir(), "embedded-pg-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const migrations = join(root, "migrations");
Bun.spawnSync(["mkdir", "-p", migrations]);
writeFileSync(join(migrations, "0001_items.sql"), "create table items (label text not null);");

const withSql = <A>(f: (sql: postgres.Sql) => Promise<A>) => Sql.use((sql) => Effect.promise(() => f(sql)));

// PGlite's first start runs initdb in WASM (~3 s per data directory): keep their number low.
describe("embedded PostgreSQL (PGlite)", () => {
  test("two services sharing a dataDir each get their own schema, and data persists across restarts", async () => {
    const dataDir = join(root, "meridian");
    const service = (schema: string) => layerDatabase({ databaseUrl: undefined, dataDir, schema });
    const firstStart = (schema: string) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const applied = yield* migrate(migrations);
          yield* withSql((sql) => sql`insert into items values (${schema})`);
          return applied;
        }).pipe(Effect.provide(service(schema))),
      );
    // Both at once: one PGlite session shared by the two would mix up their search_paths.
    expect(await Promise.all([firstStart("market"), firstStart("trading")])).toEqual([[1], [1]]);

    const restart = (schema: string) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const applied = yield* migrate(migrations);
          const rows = yield* withSql((sql) => sql`select label, current_schema() as schema from items`);
          return { applied, rows: rows.map((r) => [r.label, r.schema]) };
        }).pipe(Effect.provide(service(schema))),
      );
    expect(await restart("market")).toEqual({ applied: [], rows: [["market", "market"]] });
    expect(await restart("trading")).toEqual({ applied: [], rows: [["trading", "trading"]] });
  }, 60_000);

  test("layers on one PGlite in turn each work in their own schema; a second concurrent client is refused", async () => {
    const program = Effect.gen(function* () {
      const { url } = yield* EmbeddedPostgres;
      const inSchema = <A>(schema: string, f: (sql: postgres.Sql) => Promise<A>) =>
        withSql(f).pipe(Effect.provide(layerSql({ url, schema, maxConnections: 1 })));
      yield* inSchema("a", (sql) =>
        sql`create table items (label text); insert into items values ('a')`.simple(),
      );
      yield* inSchema("b", (sql) =>
        sql`create table items (label text); insert into items values ('b')`.simple(),
      );
      const seenByA = yield* inSchema("a", (sql) => sql`select label from items`);

      // While one client is connected, a second one is not served: it fails the start-up check.
      const second = yield* inSchema("a", async () =>
        Effect.runPromise(
          Effect.flip(
            Sql.use(() => Effect.void).pipe(
              Effect.provide(layerSql({ url, schema: "b", maxConnections: 1, connectTimeoutSeconds: 1 })),
            ),
          ),
        ),
      );
      return { seenByA: seenByA.map((r) => r.label), second };
    });
    const { seenByA, second } = await Effect.runPromise(
      program.pipe(Effect.provide(layerEmbeddedPostgres(join(root, "shared")))),
    );
    expect(seenByA).toEqual(["a"]);
    expect(second).toBeInstanceOf(PostgresUnavailable);
  }, 60_000);

  test("the socket is closed when the layer's scope closes", async () => {
    const dataDir = join(root, "meridian", "market");
    const url = await Effect.runPromise(
      EmbeddedPostgres.use(({ url }) => Effect.succeed(url)).pipe(
        Effect.provide(layerEmbeddedPostgres(dataDir)),
      ),
    );
    const client = postgres(url, { max: 1, connect_timeout: 1, onnotice: () => {} });
    await expect(client`select 1`.execute()).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await client.end({ timeout: 0 });
  }, 60_000);
});
