import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Effect } from "effect";
import postgres from "postgres";
import { MigrationError } from "./errors.js";
import { migrate } from "./migrations.js";
import { layerSql, Sql } from "./sql.js";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const run = `t_${Math.random().toString(36).slice(2, 10)}`;
const admin = postgres(url, { max: 2, onnotice: () => {} });
const schemas: string[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const schema of schemas) await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// A fresh schema and a migrations directory holding `files`, per test.
const fixture = (files: Record<string, string>) => {
  const schema = `${run}_${schemas.length}`;
  schemas.push(schema);
  const dir = mkdtempSync(join(tmpdir(), "migrations-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const inSchema = <A, E>(effect: Effect.Effect<A, E, Sql>) =>
    Effect.runPromise(Effect.provide(effect, layerSql({ url, schema, maxConnections: 3 })));
  return { schema, dir, inSchema, failure: (d = dir) => inSchema(Effect.flip(migrate(d))) };
};

const withSql = <A>(f: (sql: postgres.Sql) => Promise<A>) => Sql.use((sql) => Effect.promise(() => f(sql)));

describe("migrate", () => {
  test("applies each migration once: a second run applies nothing", async () => {
    const { dir, inSchema } = fixture({
      "0001_create.sql": "create table items (id int primary key);",
      "0002_seed.sql": "insert into items values (1), (2);",
    });
    expect(await inSchema(migrate(dir))).toEqual([1, 2]);
    expect(await inSchema(migrate(dir))).toEqual([]);
    const rows = await inSchema(withSql((sql) => sql`select count(*)::int as n from items`));
    expect(rows[0]?.n).toBe(2);
  });

  test("applies in version order, not in directory order, in the service's schema", async () => {
    const { schema, dir, inSchema } = fixture({
      "0010_add_column.sql": "alter table items add column label text not null default 'x';",
      "0002_create.sql": "create table items (id int primary key);",
      "0003_seed.sql": "insert into items (id) values (7);",
    });
    expect(await inSchema(migrate(dir))).toEqual([2, 3, 10]);
    const [row] = await admin`select label from ${admin(schema)}.items`;
    expect(row?.label).toBe("x");
    const recorded =
      await admin`select version, name from ${admin(schema)}.schema_migrations order by applied_at, version`;
    expect(recorded.map((r) => [r.version, r.name])).toEqual([
      [2, "create"],
      [3, "seed"],
      [10, "add_column"],
    ]);
  });

  test("two concurrent starters apply each migration exactly once", async () => {
    const { dir, inSchema } = fixture({
      // Without the lock both starters see 0001 pending; the sleep keeps the race window open.
      "0001_create.sql": "select pg_sleep(0.2); create table items (id int primary key);",
      "0002_seed.sql": "insert into items values (1);",
    });
    const [a, b] = await Promise.all([inSchema(migrate(dir)), inSchema(migrate(dir))]);
    expect([...(a ?? []), ...(b ?? [])].sort()).toEqual([1, 2]);
    const rows = await inSchema(withSql((sql) => sql`select count(*)::int as n from items`));
    expect(rows[0]?.n).toBe(1);
  });

  test("a failing migration leaves no record and no partial table; earlier ones stay", async () => {
    const { schema, failure } = fixture({
      "0001_create.sql": "create table items (id int primary key);",
      "0002_broken.sql": "create table partial (id int); select 1 / 0;",
    });
    const error = await failure();
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.version).toBe(2);
    expect(error.message).toContain("division by zero");
    const versions = await admin`select version from ${admin(schema)}.schema_migrations`;
    expect(versions.map((r) => r.version)).toEqual([1]);
    const [table] = await admin`select to_regclass(${`${schema}.partial`})::text as name`;
    expect(table?.name).toBeNull();
  });

  test("an applied migration edited afterwards fails with MigrationError", async () => {
    const { dir, inSchema, failure } = fixture({ "0001_create.sql": "create table items (id int);" });
    await inSchema(migrate(dir));
    writeFileSync(join(dir, "0001_create.sql"), "create table items (id bigint);");
    const error = await failure();
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.version).toBe(1);
    expect(error.message).toContain("edited");
  });

  test("a misnamed file fails with MigrationError before anything is applied", async () => {
    const { schema, failure } = fixture({
      "0001_create.sql": "create table items (id int);",
      "2_seed.sql": "insert into items values (1);",
    });
    const error = await failure();
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.file).toBe("2_seed.sql");
    const [table] = await admin`select to_regclass(${`${schema}.items`})::text as name`;
    expect(table?.name).toBeNull();
  });

  test("two files with one version fail with MigrationError", async () => {
    const { failure } = fixture({
      "0001_create.sql": "create table items (id int);",
      "0001_other.sql": "create table others (id int);",
    });
    const error = await failure();
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.version).toBe(1);
  });

  test("a missing directory fails with MigrationError", async () => {
    const { dir, failure } = fixture({});
    const error = await failure(join(dir, "absent"));
    expect(error).toBeInstanceOf(MigrationError);
  });
});
