import { afterAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { Effect } from "effect";
import postgres from "postgres";
import { PostgresUnavailable } from "./errors.js";
import { layerSql, Sql } from "./sql.js";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `t_${Math.random().toString(36).slice(2, 10)}`;
const admin = postgres(url, { max: 1, onnotice: () => {} });

afterAll(async () => {
  await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
});

const withUrlParam = (base: string, key: string, value: string) => {
  const u = new URL(base);
  u.searchParams.set(key, value);
  return u.toString();
};

describe("layerSql", () => {
  test("creates the schema and every pooled connection works in it", async () => {
    const schemas = await Effect.runPromise(
      Sql.use((sql) =>
        Effect.promise(() =>
          // Concurrent queries force several connections open.
          Promise.all(
            [1, 2, 3].map(async () => {
              const [row] =
                await sql`select current_schema() as schema, pg_sleep(0.05), pg_backend_pid() as pid`;
              return { schema: row?.schema as string, pid: row?.pid as number };
            }),
          ),
        ),
      ).pipe(Effect.provide(layerSql({ url, schema, maxConnections: 3 }))),
    );
    expect(new Set(schemas.map((s) => s.pid)).size).toBe(3);
    expect(schemas.map((s) => s.schema)).toEqual([schema, schema, schema]);
    const [found] = await admin`select count(*)::int as n from pg_namespace where nspname = ${schema}`;
    expect(found?.n).toBe(1);
  });

  test("concurrent starters on a missing schema both start", async () => {
    const fresh = `${schema}_race`;
    try {
      const layer = () => layerSql({ url, schema: fresh, maxConnections: 1 });
      const start = () => Effect.runPromise(Sql.use(() => Effect.void).pipe(Effect.provide(layer())));
      await Promise.all([start(), start(), start()]);
    } finally {
      await admin`drop schema if exists ${admin(fresh)} cascade`;
    }
  });

  test("an unreachable database fails fast with PostgresUnavailable naming host:port, not the password", async () => {
    const started = Date.now();
    const error = await Effect.runPromise(
      Effect.flip(
        Sql.use(() => Effect.void).pipe(
          Effect.provide(layerSql({ url: "postgres://app:s3cr3t-pw@127.0.0.1:1/test", schema })),
        ),
      ),
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error).toBeInstanceOf(PostgresUnavailable);
    expect(error.message).toContain("127.0.0.1:1");
    expect(JSON.stringify(error)).not.toContain("s3cr3t-pw");
    expect(String(error)).not.toContain("s3cr3t-pw");
  });

  test("a server that accepts but never answers fails within the connect timeout", async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    try {
      const started = Date.now();
      const error = await Effect.runPromise(
        Effect.flip(
          Sql.use(() => Effect.void).pipe(
            Effect.provide(
              layerSql({ url: `postgres://app:pw@127.0.0.1:${port}/test`, schema, connectTimeoutSeconds: 1 }),
            ),
          ),
        ),
      );
      expect(error).toBeInstanceOf(PostgresUnavailable);
      expect(error.address).toBe(`127.0.0.1:${port}`);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      silent.close();
    }
  });

  test("the pool is closed once the layer's scope closes", async () => {
    const appName = `kit_test_${schema}`;
    const captured = await Effect.runPromise(
      Sql.use((sql) =>
        Effect.promise(async () => {
          const [open] =
            await admin`select count(*)::int as n from pg_stat_activity where application_name = ${appName}`;
          expect(open?.n).toBe(1);
          return sql;
        }),
      ).pipe(Effect.provide(layerSql({ url: withUrlParam(url, "application_name", appName), schema }))),
    );
    const [after] =
      await admin`select count(*)::int as n from pg_stat_activity where application_name = ${appName}`;
    expect(after?.n).toBe(0);
    await expect(captured`select 1`.execute()).rejects.toMatchObject({ code: "CONNECTION_ENDED" });
  });
});
