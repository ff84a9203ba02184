/**
 * The two databases a service runs on, each fresh for one test
 * process: embedded PGlite in a temporary MERIDIAN_DATA_DIR, and a database of
 * its own on the real PostgreSQL (so the service keeps its default schema and
 * nothing is shared with other tests or runs).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";

/** A database a service process can be pointed at through its environment. */
export interface TestDatabase {
  readonly name: string;
  /** DATABASE_URL and MERIDIAN_DATA_DIR for the service process. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Removes the database and its data. */
  readonly drop: () => Promise<void>;
}

/** The server tests create their databases on (trust auth, as on CI). */
export const adminUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Embedded PGlite, its data in a new temporary folder. */
export async function embeddedDatabase(): Promise<TestDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), "meridian-e2e-"));
  return {
    name: "embedded PGlite",
    env: { DATABASE_URL: undefined, MERIDIAN_DATA_DIR: dataDir },
    drop: () => rm(dataDir, { recursive: true, force: true }),
  };
}

/** A new, empty database on the real PostgreSQL at {@link adminUrl}; dropped (connections and all) by `drop`. */
export async function postgresDatabase(): Promise<TestDatabase> {
  const database = `e2e_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await withAdmin((sql) => sql`create database ${sql(database)}`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return {
    name: "PostgreSQL",
    env: { DATABASE_URL: url.toString(), MERIDIAN_DATA_DIR: undefined },
    drop: () => withAdmin((sql) => sql`drop database if exists ${sql(database)} with (force)`).then(() => undefined),
  };
}

/** Both databases, for suites that must pass on each. */
export const databases: ReadonlyArray<{ readonly name: string; readonly create: () => Promise<TestDatabase> }> = [
  { name: "embedded PGlite", create: embeddedDatabase },
  { name: "PostgreSQL", create: postgresDatabase },
];

async function withAdmin<A>(run: (sql: postgres.Sql) => Promise<A>): Promise<A> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    return await run(sql);
  } catch (e) {
    throw new Error(`PostgreSQL for tests at ${adminUrl} (TEST_DATABASE_URL): ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await sql.end({ timeout: 1 });
  }
}
